"""Start and stop: a failed start unwinds everything, a stop is bounded and hands its jobs back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from aiohttp import web

from bot.app.runtime import Gateway
from bot.app.storage import make_storage
from bot.channels.memory import MemoryCard
from bot.core.models import ClickAction
from bot.settings.config import Settings, ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.embedded import load_platform, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import FAST_OUTBOX, fast_settings
from tests.gateway.helpers import eventually


async def _refused(request: web.Request) -> web.Response:
    return web.Response()


async def test_a_start_that_fails_after_the_channels_started_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark"])
    lark, storage = load_platform("lark"), make_storage(settings)
    lark.start(settings, storage.limits)
    try:
        before = set(threading.enumerate())
        # A route the router refuses: the HTTP step fails, after the store, the Lark stream
        # (an SDK thread) and the worker have started.
        gateway = Gateway(
            settings=settings,
            channels=dict(lark.channels()),
            backend_url="http://127.0.0.1:9/decisions",
            extra_routes=[web.get("no-leading-slash", _refused)],
            storage=storage,
        )
        with pytest.raises(ValueError, match="path should be started with /"):
            await gateway.start()

        def left() -> set[str]:
            # The loop's own executor pool (asyncio_N) outlives any one user of it by design.
            new = set(threading.enumerate()) - before
            return {t.name for t in new if not t.name.startswith("asyncio_")}

        async def unwound() -> bool:
            return not left()

        try:
            await eventually(unwound, within=5)
        except AssertionError:
            raise AssertionError(f"still running: {left()}") from None
        assert not gateway.store.is_open
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "outbox-worker"]
    finally:
        lark.stop()


def _forward_lease(db: Path) -> tuple[str, str | None] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, lease_owner FROM outbox WHERE kind = 'forward_decision'"
        ).fetchone()
    return None if row is None else (row[0], row[1])


async def test_a_bounded_stop_releases_the_leases_of_unfinished_jobs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secret = ensure_backend_secret(fast_settings(data_dir))
    hanging, answering = SandboxBackend(secret=secret), SandboxBackend(secret=secret)
    hanging.faults.hang_seconds = 2  # the forward is in flight when the stop comes
    await hanging.start()
    await answering.start()
    # A lease far longer than the test: only a released lease lets the next process take the job.
    outbox = FAST_OUTBOX.model_copy(update={"lease_seconds": 600, "shutdown_grace_seconds": 0.2})
    settings = fast_settings(
        data_dir, backend_url=hanging.url, backend_timeout_seconds=120, outbox=outbox
    )
    try:
        await _click_and_stop_mid_forward(settings, hanging, data_dir / "gateway.db")
        assert _forward_lease(data_dir / "gateway.db") == ("pending", None)
        # The next process (pointed at a backend that answers) takes the job at once.
        restarted = await start(settings.model_copy(update={"backend_url": answering.url}))
        try:
            decision = await answering.wait_for_decision("T-STOP", within=10)
        finally:
            await restarted.stop()
    finally:
        await hanging.stop()
        await answering.stop()
    assert decision.body["decision"] == "approved"


async def _click_and_stop_mid_forward(
    settings: Settings, backend: SandboxBackend, db: Path
) -> None:
    first = await start(settings)
    try:
        backend.gateway_url = first.gateway.url
        memory = first.memory
        assert memory is not None
        status, _ = await backend.submit(sample_ticket("T-STOP", [approver("a1", "Ann")]))
        assert status == 202

        async def card() -> MemoryCard | None:
            return next(iter(memory.cards.values()), None)

        held = await eventually(card)
        await memory.click(held.address, held.delivery_id, ClickAction.APPROVE)

        async def leased() -> bool:
            lease = _forward_lease(db)
            return lease is not None and lease[1] is not None

        await eventually(leased)
    finally:
        # Bounded by the grace period, not by the hanging backend's 120 s timeout.
        await asyncio.wait_for(first.stop(), 10)
