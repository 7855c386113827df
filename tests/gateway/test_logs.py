"""Logs are JSON lines carrying the request/ticket/delivery ids, and never a secret."""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot import logs
from bot.core.models import ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts


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


# -- fields that cannot crash a log call ---------------------------------------------------------
RESERVED = sorted(set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"})


def _logged(captured: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.getvalue().splitlines()]


@pytest.mark.parametrize("name", RESERVED)
def test_any_field_name_logs_even_a_logrecord_attribute(name: str, captured: io.StringIO) -> None:
    # extra={"message": ...} makes logging raise KeyError; through kv() every name is a field.
    logging.getLogger("test.fields").warning("line", extra=logs.kv(**{name: "value"}))
    [line] = _logged(captured)
    assert line["msg"] == "line" and "value" in (line.get(name), line.get(f"{name}_"))


def _log_calls() -> Iterator[tuple[Path, ast.Call]]:
    root = Path(__file__).resolve().parents[2]
    for folder in ("bot", "cards", "scripts"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and any(k.arg == "extra" for k in node.keywords):
                    yield path, node


def test_every_extra_in_the_code_base_goes_through_kv(captured: io.StringIO) -> None:
    keys: set[str] = set()
    for path, call in _log_calls():
        (extra,) = (k.value for k in call.keywords if k.arg == "extra")
        if isinstance(call.func, ast.Attribute) and call.func.attr in LEVELS:
            assert isinstance(extra, ast.Call) and getattr(extra.func, "id", "") == "kv", (
                f"{path}:{call.lineno}: pass log fields as extra=kv(...)"
            )
            keys |= {k.arg for k in extra.keywords if k.arg is not None}
    assert {"channel", "why"} <= keys  # the scan found the code base's log calls
    for key in sorted(keys):  # and every key used there logs
        logging.getLogger("test.fields").info("line", extra=logs.kv(**{key: 1}))
    assert len(_logged(captured)) == len(keys)


LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def test_sdk_logs_reach_stderr_only_as_json_lines(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "tests.gateway.noisy_gateway", str(tmp_path / "data")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost,::1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["DONE"]  # lark-oapi's own "[Lark] ..." handler printed here
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    by_logger = {(line["logger"], line["level"]) for line in lines}
    assert ("Lark", "error") in by_logger
    assert any(name.startswith("dingtalk_stream") for name, _ in by_logger)
    [died] = [line for line in lines if line["logger"] == "bot.threads"]
    assert died["thread"] == "noisy" and "RuntimeError" in str(died["exc"])


# -- the request's ids on every line of it, and one access line per HTTP call ------------------
async def test_every_line_of_a_request_carries_its_ids(
    stack: object, captured: io.StringIO
) -> None:
    _, backend, memory = parts(stack)
    backend.faults.fail_next = 1  # the first forward fails: its retry line must say whose it was
    status, receipt = await backend.submit(sample_ticket("T-CTX", [approver("a1", "Ann")]))
    assert status == 202, receipt
    request_id = receipt["request_id"]
    delivery = receipt["deliveries"][0]["delivery_id"]
    await memory.wait_for(delivery)
    await memory.click("a1", delivery, ClickAction.APPROVE)
    await backend.wait_for_decision("T-CTX")

    async def forwarded() -> bool:  # logged once the forward is recorded, after the backend took it
        return "decision forwarded" in captured.getvalue()

    await eventually(forwarded)
    lines = _logged(captured)
    by_msg = {line["msg"]: line for line in lines if line.get("ticket_id") == "T-CTX"}
    for msg in ("card sent", "click answered", "job will be retried", "decision forwarded"):
        assert by_msg[msg]["request_id"] == request_id, (msg, by_msg.get(msg))
    assert by_msg["click answered"]["ticket_id"] == "T-CTX"
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert all(line["ticket_id"] == "T-CTX" for line in mine)


async def test_one_access_line_per_call_without_query_or_credential(
    stack: object, captured: io.StringIO
) -> None:
    gateway, backend, _ = parts(stack)
    await backend.submit(sample_ticket("T-ACC", [approver("a1", "Ann")]))
    url = f"{gateway.gateway.url}/v1/approvals/T-ACC?access_token=hunter2secret"
    headers = {"authorization": "Bearer agw_accesslogsecretvalue", "x-request-id": "call-42"}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        assert r.status == 401 and r.headers["x-request-id"] == "call-42"

    text = captured.getvalue()
    access = [line for line in _logged(captured) if line["logger"] == "bot.access"]
    submit = next(line for line in access if line["method"] == "POST")
    assert submit["route"] == "/v1/approvals" and submit["status"] == 202
    assert isinstance(submit["duration_ms"], float) and submit["http_request_id"]
    [shown] = [line for line in access if line["http_request_id"] == "call-42"]
    assert shown["route"] == "/v1/approvals/{ticket_id}" and shown["status"] == 401
    assert {"method", "route", "status", "duration_ms"} <= set(shown)
    for secret in ("hunter2secret", "agw_accesslogsecretvalue", "access_token"):
        assert secret not in text
