"""Logs are JSON lines carrying the request/ticket/delivery ids, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from bot import logs
from bot.core.models import ClickAction
from bot.sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    logs.setup("DEBUG", stream=stream)
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]


async def test_a_whole_flow_logs_ids_and_no_secret(stack: object, captured: io.StringIO) -> None:
    gateway, backend, memory = parts(stack)
    body = json.dumps(sample_ticket("T-LOG", [approver("a1", "Ann")])).encode()
    headers = backend.sign("POST", "/v1/approvals", body)
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gateway.gateway.url}/v1/approvals", data=body, headers=headers) as r:
            receipt = await r.json()
        # a refused call logs too, and must not echo the caller's secret material
        bad = {**headers, "authorization": "Bearer agw_supersecrettokenvalue"}
        async with s.get(f"{gateway.gateway.url}/v1/approvals/T-LOG", headers=bad) as r:
            assert r.status == 401
    delivery = receipt["deliveries"][0]["delivery_id"]
    await memory.wait_for(delivery)
    await memory.click("a1", delivery, ClickAction.APPROVE)
    await backend.wait_for_decision("T-LOG")
    logging.getLogger("test").info("config dump app_secret=hunter2 token: abc123")

    text = captured.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("ticket_id") == "T-LOG" and "delivery_id" in line for line in lines)
    for secret in (
        backend.secret,
        backend.secret.removeprefix("whsec_"),
        headers["Signature"].split(":")[1],
        "agw_supersecrettokenvalue",
        "hunter2",
        "abc123",
    ):
        assert secret not in text


def test_redaction_of_known_shapes() -> None:
    line = logs.redact(
        'sent {"accessToken": "fd31abc", "appSecret": "s3cr3t"} with Bearer t-abcdef '
        "whsec_QUJDRA== sig v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
    )
    for secret in (
        "fd31abc",
        "s3cr3t",
        "t-abcdef",
        "QUJDRA==",
        "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN",
    ):
        assert secret not in line
