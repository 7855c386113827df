"""The RateLimits port, for both implementations: this process's and the database's (shared by
every replica on it), the latter on each engine. Driven through the port with a clock the test
moves; nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.channels.common.ratelimit import Departures, LocalLimits
from bot.core.limits import Budget, RateLimits
from bot.store.engine import EngineStore
from bot.store.limits import StoredRateLimits
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore

APP = Budget("lark:app:api:im.message.create", 50.0)  # a slot every 0.02 s
ANN = Budget("lark:app:user:ann", 5.0)  # a slot every 0.2 s
BOB = Budget("lark:app:user:bob", 5.0)


class Clock:
    """Unix seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


Make = Callable[[], Awaitable[RateLimits]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["process", "sqlite", "postgresql"])
async def make(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> AsyncIterator[Make]:
    """Builds limits that share their budgets (two replicas on one database, or one process)."""
    stores: list[EngineStore] = []
    local = LocalLimits(now=clock)
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""

    async def build() -> RateLimits:
        if request.param == "process":
            return local
        store: EngineStore = (
            PostgresStore(url, pool_size=2) if url else SqliteStore(tmp_path / "gateway.db")
        )
        await store.open()
        stores.append(store)
        return StoredRateLimits(store, now=clock)

    yield build
    for store in stores:
        await store.close()


async def test_calls_are_paced_one_interval_apart(make: Make) -> None:
    limits = await make()
    waits = [(await limits.reserve(APP, within=1.0)).wait for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.02, 0.04])


async def test_a_slot_too_far_ahead_is_refused_and_nothing_is_taken(make: Make) -> None:
    limits = await make()
    for _ in range(5):
        await limits.reserve(APP, within=1.0)
    refused = await limits.reserve(APP, within=0.05)  # the next slot is 0.1 s away
    assert not refused.granted and refused.wait == pytest.approx(0.05)
    granted = await limits.reserve(APP, within=1.0)
    assert granted.granted and granted.wait == pytest.approx(0.1)  # the refusal took no slot


async def test_a_busy_receiver_is_refused_at_once_and_others_go_on(
    make: Make, clock: Clock
) -> None:
    limits = await make()
    assert (await limits.reserve(APP, [ANN], within=1.0)).granted
    again = await limits.reserve(APP, [ANN], within=1.0)
    # Refused rather than waited for: the caller puts the job back for exactly this long.
    assert not again.granted and again.wait == pytest.approx(0.2)
    other = await limits.reserve(APP, [BOB], within=1.0)
    assert other.granted and other.wait == pytest.approx(0.02)  # the refusal took no app slot
    clock.now += 0.2
    assert (await limits.reserve(APP, [ANN], within=1.0)).granted


async def test_a_pause_holds_every_caller_back(make: Make, clock: Clock) -> None:
    limits = await make()
    await limits.pause(APP.key, 3.0)
    assert not (await limits.reserve(APP, within=2.0)).granted
    clock.now += 1.5
    late = await limits.reserve(APP, within=2.0)
    assert late.granted and late.wait == pytest.approx(1.5)


async def test_replicas_on_one_database_share_one_budget(make: Make) -> None:
    first, second = await make(), await make()
    waits = []
    for limits in (first, second, first, second):
        waits.append((await limits.reserve(APP, [ANN], within=1.0)).granted)
    # One receiver, four calls from two senders at the same instant: one slot for all of them.
    assert waits == [True, False, False, False]


def test_late_calls_leave_no_more_than_the_budget_in_any_second(clock: Clock) -> None:
    departures = Departures(now=clock)
    budget = Budget("dingtalk:app:api:/v1.0/card/instances", 2.0)
    # Three calls whose slots came due while the loop was busy, all leaving at once.
    assert [departures.book([budget]) for _ in range(3)] == [0.0, 0.0, 1.0]
    clock.now += 1.0
    assert departures.book([budget]) == pytest.approx(0.0)  # the second call left 1 s ago
    assert departures.book([budget]) == pytest.approx(1.0)  # booked behind the third
