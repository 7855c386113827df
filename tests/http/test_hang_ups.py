"""A client that hangs up mid-request is the client's business: logged once at INFO, never as an
unhandled error (no ERROR, no traceback), and the gateway serves the next caller as before.

Raw sockets against the running gateway send a head that promises more body than follows, then
close (or reset) the connection."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually

HEAD = (
    b"POST /v1/approvals HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
)
PART = b'{"ticket_id":'  # 13 of the 100 bytes promised


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await start(fast_settings(tmp_path / "data"))
    try:
        yield stack
    finally:
        await stack.stop()


def _hang_up(url: str, *, reset: bool) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 0)) as sock:
        if reset:  # an RST rather than a FIN: SO_LINGER on, zero seconds
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(HEAD + PART)


async def _still_serves(url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(url + "/healthz") as r:
        assert r.status == 200


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_client_hanging_up_mid_body_is_logged_once_at_info(
    gateway: Embedded, caplog: pytest.LogCaptureFixture, reset: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    await asyncio.to_thread(_hang_up, gateway.gateway.url, reset=reset)

    def told() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "hung up" in r.getMessage()]

    async def noticed() -> list[logging.LogRecord]:  # the server notices the close in its time
        return told()

    await eventually(noticed)
    await _still_serves(gateway.gateway.url)
    assert len(told()) == 1, [r.getMessage() for r in caplog.records]
    assert told()[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], [
        (r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING
    ]
