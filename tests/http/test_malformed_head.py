"""A request aiohttp cannot parse gets the API's JSON 400, and no traceback in the log."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from sandbox.embedded import Embedded


async def _raw(stack: Embedded, head: bytes, body: bytes) -> tuple[str, dict[str, str], bytes]:
    host, _, port = stack.gateway.url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # the connection is closed after it
    finally:
        writer.close()
    status, _, rest = answer.partition(b"\r\n")
    lines, _, payload = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode().split(": ", 1) for line in lines.split(b"\r\n"))
    return status.decode(), {k.lower(): v for k, v in headers.items()}, payload


async def test_two_content_types_are_a_json_400_without_a_traceback(
    stack: object, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(stack, Embedded)
    head = (
        b"POST /v1/approvals HTTP/1.1\r\nHost: gw\r\n"
        b"Content-Type: application/json\r\nContent-Type: text/plain\r\n"
    )
    with caplog.at_level(logging.INFO):
        status, headers, payload = await _raw(stack, head, b'{"ticket_id": "T-1"}')
    assert status.split()[1] == "400"
    assert headers["content-type"].startswith("application/json")
    error = json.loads(payload)["error"]
    assert error["code"] == "malformed_request"
    assert "Content-Type" in error["message"]
    assert error["fields"] == {"headers.Content-Type": "sent more than once; send it once"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info]
    assert any(r.getMessage() == "malformed request refused" for r in caplog.records)
