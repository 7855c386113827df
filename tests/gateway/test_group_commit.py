"""Concurrent signed submits share one transaction and one COMMIT, each caller's part in its own
savepoint; every 202 is durable; kept answers are swept once expired."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.errors import Conflict
from bot.settings.config import OutboxSettings
from bot.store.sqlite import SqliteStore
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts, row_counts, store_held
from tests.support.clock import MovableClock


def store_of(stack: object) -> SqliteStore:
    embedded, _, _ = parts(stack)
    store = embedded.gateway.store
    assert isinstance(store, SqliteStore)
    return store


async def _waiting(store: SqliteStore, n: int) -> bool:
    return store.stats.waiting >= n


@pytest.fixture
async def idle_worker_stack(tmp_path: Path) -> AsyncIterator[Embedded]:
    # The worker writes only when woken: the store's queue holds the test's submits alone.
    quiet = OutboxSettings(poll_seconds=60, expiry_sweep_seconds=60)
    embedded = await start(fast_settings(tmp_path / "data", outbox=quiet))
    try:
        yield embedded
    finally:
        await embedded.stop()


async def test_queued_submits_commit_together_and_a_refusal_undoes_only_its_part(
    idle_worker_stack: Embedded,
) -> None:
    embedded, backend, _ = parts(idle_worker_stack)
    store, db = store_of(embedded), embedded.gateway.settings.db_path
    tickets = [sample_ticket(f"GC-{i}", [approver("a1", "Ann")]) for i in range(10)]
    tickets.append(sample_ticket("GC-3", [approver("a2", "Bob")]))  # GC-3 again: refused
    async with store_held(db):  # another process writes: every submit queues behind it
        calls = [asyncio.create_task(backend.submit(t)) for t in tickets]
        await eventually(lambda: _waiting(store, len(tickets) - 1))
    answers = await asyncio.gather(*calls)

    assert [status for status, _ in answers] == [202] * 10 + [409]
    assert answers[-1][1]["error"]["code"] == "conflict"
    # One COMMIT (one fsync) made the whole queue durable, the refused part included.
    assert store.stats.largest_batch >= len(tickets)
    counts = row_counts(db)
    assert counts["requests"] == 10 and counts["deliveries"] == 10  # the refusal wrote nothing
    for _, receipt in answers[:10]:
        assert (await backend.trace(receipt["ticket_id"]))[0] == 200


async def test_a_kept_answer_is_forgotten_by_the_sweep_once_it_expired(tmp_path: Path) -> None:
    clock = MovableClock()
    embedded = await start(fast_settings(tmp_path / "data"), clock=clock)
    backend = embedded.backend
    assert backend is not None
    try:
        raw = json.dumps(sample_ticket("GC-KEPT", [approver("a1", "Ann")])).encode()

        async def resend() -> tuple[int, str | None]:
            headers = backend.sign(
                "POST", "/v1/approvals", raw, request_id="req-kept-1", at=clock.now()
            )
            url = embedded.gateway.url + "/v1/approvals"
            async with aiohttp.ClientSession() as s, s.post(url, data=raw, headers=headers) as r:
                return r.status, r.headers.get("Idempotent-Replayed")

        assert await resend() == (202, None)
        assert await resend() == (202, "true")  # the kept answer
        clock.advance(timedelta(hours=25).total_seconds())  # past the 24 h it is kept

        # Swept: the id acts again (and is refused: the ticket has expired by now).
        async def acts_again() -> bool:
            status, replayed = await resend()
            return replayed is None and status == 422

        await eventually(acts_again)
    finally:
        await embedded.stop()


async def test_a_part_that_fails_after_writing_rolls_back_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    at = MovableClock().now()

    async def refused() -> None:
        async with store.unit() as tx:
            await tx.ledger.audit(at, "t", "refused.part", "x", "", "")
            raise Conflict("refused after writing")

    async def kept(n: int) -> None:
        async with store.unit() as tx:
            await tx.ledger.audit(at, "t", "kept.part", str(n), "", "")

    try:
        async with store_held(store.path):
            calls = [asyncio.create_task(kept(0)), asyncio.create_task(refused())]
            calls.append(asyncio.create_task(kept(1)))
            await eventually(lambda: _waiting(store, len(calls) - 1))
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[0] is None and results[2] is None and isinstance(results[1], Conflict)
        assert store.stats.largest_batch == len(calls)  # all three in one transaction
        with sqlite3.connect(store.path) as conn:
            actions = [row[0] for row in conn.execute("SELECT action FROM audit")]
        assert sorted(actions) == ["kept.part", "kept.part"]
    finally:
        await store.close()
