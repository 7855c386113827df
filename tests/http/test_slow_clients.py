"""Slow clients (slow-loris) are dropped at the read deadlines and starve nobody meanwhile.

Raw sockets dribble a request a byte at a time; the deadlines are made tiny through settings so
the test stays short.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.settings.config import HttpSettings
from sandbox.embedded import start
from tests.conftest import fast_settings

HEAD_TIMEOUT, BODY_TIMEOUT = 0.3, 0.6
SLOW_CLIENTS = 50


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    limits = HttpSettings(header_timeout_seconds=HEAD_TIMEOUT, body_timeout_seconds=BODY_TIMEOUT)
    stack = await start(fast_settings(tmp_path / "data", http=limits))
    try:
        yield stack.gateway.url
    finally:
        await stack.stop()


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _dribble(writer: asyncio.StreamWriter, data: bytes, pause: float = 0.05) -> None:
    # The client's own pace: one byte, then a pause, for as long as the server listens.
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(pause)


async def _answer_and_close(reader: asyncio.StreamReader) -> bytes:
    """The server's whole answer, then its close; fails if it keeps the connection open.

    The answer is read by its Content-Length, not to EOF: a server that closes while a client is
    still sending ends with a reset, not a FIN (TCP drops what arrives after the close), and a
    reset arriving before EOF would discard what the client had not read yet.
    """
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answer = head + await reader.readexactly(length)
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read() == b"", "the server kept talking after its answer"
    return answer


async def _slow_head(url: str) -> bytes:
    reader, writer = await _connect(url)
    head = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
    dribbler = asyncio.create_task(_dribble(writer, head))
    try:
        return await _answer_and_close(reader)
    finally:
        dribbler.cancel()
        writer.close()


async def test_slow_heads_are_dropped_without_starving_others(url: str) -> None:
    slow = [asyncio.create_task(_slow_head(url)) for _ in range(SLOW_CLIENTS)]
    silent_reader, silent = await _connect(url)  # opens and never sends a byte
    async with aiohttp.ClientSession() as session:
        for _ in range(5):  # served at once while every slow connection is open
            async with session.get(f"{url}/healthz") as response:
                assert response.status == 200
    answers = await asyncio.gather(*slow)
    assert all(a.startswith(b"HTTP/1.1 408 Request Timeout\r\n") for a in answers), answers[0]
    assert (await _answer_and_close(silent_reader)).startswith(b"HTTP/1.1 408")
    silent.close()


async def test_a_slow_body_is_answered_408_and_closed(url: str) -> None:
    reader, writer = await _connect(url)
    body = b'{"ticket_id": "' + b"x" * 500 + b'"}'
    head = (
        b"POST /v1/approvals HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    writer.write(head)
    dribbler = asyncio.create_task(_dribble(writer, body))
    try:
        answer = await _answer_and_close(reader)
    finally:
        dribbler.cancel()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"code": "request_timeout"' in answer


async def test_a_body_on_time_is_not_cut_by_the_head_deadline(url: str) -> None:
    # Longer than the head deadline, shorter than the body deadline: the request goes through
    # to the handler (which refuses it unsigned; what matters is that it was not timed out).
    reader, writer = await _connect(url)
    body = b'{"ticket_id": "T-1"}'
    writer.write(
        b"POST /v1/approvals HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    await _dribble(writer, body, pause=0.4 / len(body))
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 4") and b" 408 " not in status_line, status_line


async def test_the_next_head_on_a_kept_alive_connection_has_its_own_deadline(url: str) -> None:
    reader, writer = await _connect(url)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), 5)
    assert first.startswith(b"HTTP/1.1 200 OK")
    dribbler = asyncio.create_task(_dribble(writer, b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n"))
    try:
        answer = await _answer_and_close(reader)
    finally:
        dribbler.cancel()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
