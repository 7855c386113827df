"""``/readyz`` is ready only while the store can write.

The gateway runs as its own process; its file size limit (``RLIMIT_FSIZE``) is then lowered to
one byte from outside, which makes every write to the database fail as on a full disk or a
read-only filesystem (Python ignores the ``SIGXFSZ`` that comes with it, so the write just fails
with ``EFBIG``). Unlike file modes, the limit binds root too.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.helpers import eventually

pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[int, str]]:
    env = {
        **os.environ,
        "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "APPROVAL_GATEWAY_LISTEN": "127.0.0.1:0",
        "APPROVAL_GATEWAY_SANDBOX_PLATFORMS": '["memory"]',
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "listening on " in line, line
        yield proc.pid, line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


async def _ready(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as response:
        return response.status, await response.json()


async def test_not_ready_while_the_store_cannot_write(gateway: tuple[int, str]) -> None:
    pid, url = gateway
    status, body = await _ready(url)
    assert status == 200, body
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))
    try:

        async def refused() -> dict[str, Any] | None:
            status, body = await _ready(url)
            return body if status == 503 else None

        body = await eventually(refused, within=15)
        assert body["checks"]["store"].startswith("cannot write: "), body
        assert body["checks"]["memory"] == "connected"  # only the store is the matter
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))

    async def recovered() -> dict[str, Any] | None:
        status, body = await _ready(url)
        return body if status == 200 else None

    assert (await eventually(recovered, within=15))["checks"]["store"] == "writable"
