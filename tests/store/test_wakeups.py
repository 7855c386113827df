"""A wait for work or for a consent change ends when its task is cancelled, even when the
wakeup comes at the same moment (``bot.store.wakeups.InProcessWork``, which the PostgreSQL engine
wakes on every NOTIFY), and so do the loops of the runtime that wait on it: the stop cancels
them and waits for them to end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from bot.app.runtime import follow_consents, relay_work
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.wakeups import InProcessWork
from tests.store.engines import postgres_schema

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LONG = 3600.0  # never reached: the test ends by the wakeup or the cancel


class _Worker:
    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


class _Access:
    def __init__(self) -> None:
        self.refreshed = 0

    async def refresh(self) -> None:
        self.refreshed += 1


async def _cancelled_as_woken(wait: Awaitable[Any], wake: Callable[[], None]) -> None:
    task = asyncio.ensure_future(wait)
    await asyncio.sleep(0)  # the task is waiting now
    wake()
    task.cancel()  # in the same turn of the loop as the wakeup
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # a swallowed cancel would wait on for LONG


async def test_a_wait_for_work_cancelled_as_work_arrives_is_cancelled() -> None:
    store = InProcessWork()
    await _cancelled_as_woken(store.wait_for_work(LONG), store.work_enqueued)


async def test_a_wait_for_consents_cancelled_as_a_change_is_heard_is_cancelled() -> None:
    store = InProcessWork()
    await _cancelled_as_woken(store.wait_for_consents(LONG), store._consents.set)


async def test_the_work_relay_ends_when_cancelled_as_a_notify_arrives() -> None:
    store = InProcessWork()
    relay = relay_work(cast(EngineStore, store), cast(Any, _Worker()), LONG)
    await _cancelled_as_woken(relay, store.work_enqueued)


async def test_the_consent_follower_ends_when_cancelled_as_a_change_is_heard() -> None:
    store = InProcessWork()
    follower = follow_consents(cast(EngineStore, store), cast(Any, _Access()))
    await _cancelled_as_woken(follower, store._consents.set)


async def test_a_replica_hears_which_kind_of_work_arrived_and_not_another_schemas(
    pg_url: str,
) -> None:
    with postgres_schema() as elsewhere_url:
        here, other, elsewhere = (
            PostgresStore(url, pool_size=2) for url in (pg_url, pg_url, elsewhere_url)
        )
        for store in (here, other, elsewhere):
            await store.open()
        try:
            async with elsewhere.unit() as tx:  # another deployment, same database
                await tx.outbox.enqueue("send_card", "del-0", T0)
            async with here.unit() as tx:
                await tx.outbox.enqueue("forward_decision", "dec-1", T0)
            # The forward's lane alone is woken, and the other schema's card woke nobody here.
            assert await other.wait_for_work(10) == ("forward_decision",)
            assert await other.wait_for_work(0.2) is None
        finally:
            for store in (here, other, elsewhere):
                await store.close()
