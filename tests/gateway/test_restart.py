"""A gateway killed mid-retry and started again on the same database finishes the job, once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.settings.config import ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.embedded import start
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


async def test_killed_gateway_finishes_the_forward_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secret = ensure_backend_secret(fast_settings(data_dir))
    backend = SandboxBackend(secret=secret)
    backend.faults.fail_next = 10_000  # down for as long as the first process lives
    await backend.start()
    try:
        await _crash_mid_retry(data_dir, backend, secret)
        backend.faults.fail_next = 0
        # Same database, same backend: the leased job is claimed again when its lease ends.
        restarted = await start(fast_settings(data_dir, backend_url=backend.url))
        try:
            decision = await backend.wait_for_decision("T-CRASH", within=20)
            await asyncio.sleep(0.5)
        finally:
            await restarted.stop()
    finally:
        await backend.stop()
    assert decision.body["comment"] == "before the crash"
    assert len(backend.decisions) == 1
    assert len({a.webhook_id for a in backend.attempts}) == 1, "every attempt is the same event"
    assert backend.attempts[-1].status == 200


async def _crash_mid_retry(data_dir: Path, backend: SandboxBackend, secret: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.gateway.crashing_gateway",
        str(data_dir),
        backend.url,
        secret,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"DECIDED decided"), line

        async def retrying() -> bool:
            return len(backend.attempts) >= 3

        await eventually(retrying, within=20)
    finally:
        proc.send_signal(signal.SIGKILL)  # no graceful shutdown: the lease is left behind
        await proc.wait()
    assert all(a.status == 503 for a in backend.attempts)
