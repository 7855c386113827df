"""The same signed write sent twice at the same moment, to one gateway or to two replicas on one
PostgreSQL database, acts once and is answered with the kept answer on both: the second waits
for the first one's transaction, then replays it (never a ``409 conflict``)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Gateway
from bot.secrets import encode_key, new_key
from sandbox.backend import SandboxBackend
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import parts, trace
from tests.store.engines import postgres_schema

ROUNDS = 6  # a lost race shows in almost every round; six make a pass by luck unlikely
Answer = tuple[int, str | None, Any]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


async def _post(http: aiohttp.ClientSession, url: str, body: bytes, headers: Any) -> Answer:
    async with http.post(url + "/v1/approvals", data=body, headers=headers) as r:
        return r.status, r.headers.get("Idempotent-Replayed"), json.loads(await r.text())


async def _twice_at_once(backend: SandboxBackend, urls: list[str], ticket_id: str) -> None:
    ticket = sample_ticket(ticket_id, [approver("a1", "Ann")])
    body = json.dumps(ticket).encode()
    headers = backend.sign("POST", "/v1/approvals", body)  # one signed request, sent twice
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(_post(http, url, body, headers) for url in urls))
    assert sorted(status for status, _, _ in answers) == [202, 202], answers
    assert sorted(str(replayed) for _, replayed, _ in answers) == ["None", "true"], answers
    assert answers[0][2] == answers[1][2], "both get the one kept answer"
    stored = await trace(backend, ticket_id)
    assert stored["request_id"] == answers[0][2]["request_id"]


async def test_one_signed_submit_to_two_postgresql_replicas_acts_once(
    tmp_path: Path, pg_url: str
) -> None:
    from sandbox.embedded import start

    shared = {
        "database_url": pg_url,
        "master_key": encode_key(new_key()),  # one key and one backend secret for both
        "backend_secret": "whsec_" + base64.b64encode(b"r" * 32).decode(),
    }
    a = await start(fast_settings(tmp_path / "a", **shared))
    try:
        _, backend, memory = parts(a)
        async with Gateway(
            fast_settings(tmp_path / "b", **shared), {"memory": memory}, backend.url
        ) as b:
            for n in range(ROUNDS):
                await _twice_at_once(backend, [a.gateway.url, b.url], f"T-TWO-{n}")
    finally:
        await a.stop()


async def test_one_signed_submit_sent_twice_to_one_gateway_acts_once(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    for n in range(ROUNDS):
        await _twice_at_once(backend, [gateway.gateway.url] * 2, f"T-ONE-{n}")
