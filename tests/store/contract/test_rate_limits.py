"""The RateLimits port, for both implementations: this process's and the database's (shared by
every replica on it), the latter on each engine. Driven through the port with a clock the test
moves; nothing sleeps."""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from bot.channels.common.ratelimit import LocalLimits, take
from bot.core.limits import Budget, Grant, Pace, RateLimits, Turn, Window
from bot.errors import ChannelDeferred
from bot.store.engine import EngineStore
from bot.store.limits import StoredRateLimits
from bot.store.postgres import PostgresStore
from bot.store.postgres.limits import PostgresRateLimits
from bot.store.sqlite import SqliteStore
from tests.support.clock import MovableClock
from tests.support.pacing import VirtualTimer, most_in_window

APP = Budget("lark:app:api:im.message.create", 50.0)  # a slot every 0.02 s
ANN = Budget("lark:app:user:ann", 5.0)  # a slot every 0.2 s
BOB = Budget("lark:app:user:bob", 5.0)


Make = Callable[[], Awaitable[RateLimits]]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(1_000_000.0)


@pytest.fixture(params=["process", "sqlite", "postgresql"])
async def make(
    request: pytest.FixtureRequest, clock: MovableClock, tmp_path: Path
) -> AsyncIterator[Make]:
    """Builds limits that share their budgets (two replicas on one database, or one process)."""
    stores: list[EngineStore] = []
    local = LocalLimits(now=clock)
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""

    async def build() -> RateLimits:
        if request.param == "process":
            return local
        if url:
            pg = PostgresStore(url, pool_size=2)
            await pg.open()
            stores.append(pg)
            return PostgresRateLimits(pg, now=clock)
        store = SqliteStore(tmp_path / "gateway.db")
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
    make: Make, clock: MovableClock
) -> None:
    limits = await make()
    assert (await limits.reserve(APP, [ANN], within=1.0)).granted
    again = await limits.reserve(APP, [ANN], within=1.0)
    # Refused rather than waited for: the caller puts the job back for exactly this long.
    assert not again.granted and again.wait == pytest.approx(0.2)
    other = await limits.reserve(APP, [BOB], within=1.0)
    assert other.granted and other.wait == pytest.approx(0.02)  # the refusal took no app slot
    clock.advance(0.2)
    assert (await limits.reserve(APP, [ANN], within=1.0)).granted


async def test_a_pause_holds_every_caller_back(make: Make, clock: MovableClock) -> None:
    limits = await make()
    await limits.pause(APP.key, 3.0)
    assert not (await limits.reserve(APP, within=2.0)).granted
    clock.advance(1.5)
    late = await limits.reserve(APP, within=2.0)
    assert late.granted and late.wait == pytest.approx(1.5)


async def test_replicas_on_one_database_share_one_budget(make: Make) -> None:
    first, second = await make(), await make()
    waits = []
    for limits in (first, second, first, second):
        waits.append((await limits.reserve(APP, [ANN], within=1.0)).granted)
    # One receiver, four calls from two senders at the same instant: one slot for all of them.
    assert waits == [True, False, False, False]


async def test_a_burst_goes_at_the_pace_then_the_budget_holds_to_its_rate(make: Make) -> None:
    limits = await make()
    minute = Budget("lark:app:api:im.message.create:minute", 1.0, burst=3)
    waits = [(await limits.reserve([APP, minute], within=2.0)).wait for _ in range(5)]
    # Three at the per-second pace, then one a second: the burst is spent.
    assert waits == pytest.approx([0.0, 0.02, 0.04, 1.0, 2.0])


PACED = Budget("lark:app:api:im.message.patch", 48.0)
MINUTE = Window("lark:app:api:im.message.patch:minute", 100, 6.0)  # 100 in any 6 s


async def test_a_window_lets_a_burst_go_at_the_pace_and_holds_any_span_to_its_calls(
    make: Make, clock: MovableClock
) -> None:
    # Two replicas, three callers each, 250 calls: the first 100 at the per-second pace, then
    # each waits for the call 100 before it to be 6 s old, on every engine.
    timer = VirtualTimer(clock)
    replicas = [await make() for _ in range(2)]
    left: list[float] = []
    calls = iter(range(250))

    async def caller(limits: RateLimits) -> None:
        for _ in calls:
            while True:
                try:
                    await take(limits, PACED, what="patch", timer=timer, windows=[MINUTE])
                    break
                except ChannelDeferred as exc:  # the job is put back for that long
                    await timer.sleep(exc.retry_after or 0.0)
            left.append(timer.now())

    await timer.run([caller(r) for r in replicas for _ in range(3)])
    left.sort()
    assert len(left) == 250
    assert most_in_window(left, MINUTE.seconds) <= MINUTE.calls
    assert most_in_window(left, 1.0) <= 49
    assert left[99] - left[0] <= 99 / PACED.rate + 0.01  # the burst at the pace
    assert left[100] - left[0] <= MINUTE.seconds + 0.5  # not held longer than the window


STALLED = Budget("dingtalk:app:api:/v1.0/card/instances", 10.0)  # a slot every 0.1 s
REPLICAS, CALLERS, CALLS = 3, 2, 25


async def test_late_wake_ups_leave_at_most_one_call_over_the_rate_in_any_second(
    make: Make, clock: MovableClock
) -> None:
    # Now and then a wake-up comes late, by 0.5 or 0.25 s (the loop was busy): a stall delays
    # every task whose slot passed meanwhile, as on a loaded host. Were they all to go, the
    # second after a stall would see the slots of 1.5 s.
    lateness = itertools.cycle([0.0] * 20 + [0.5] + [0.0] * 15 + [0.25])
    timer = VirtualTimer(clock, stall=lambda: next(lateness))  # the limits' clock
    replicas = [await make() for _ in range(REPLICAS)]
    left: list[float] = []

    async def caller(limits: RateLimits) -> None:
        for _ in range(CALLS):
            while True:
                try:
                    await take(limits, STALLED, what="create", timer=timer)
                    break
                except ChannelDeferred as exc:  # the job is put back for that long
                    await timer.sleep(exc.retry_after or 0.0)
            left.append(timer.now())

    await timer.run([caller(r) for r in replicas for _ in range(CALLERS)])
    assert len(left) == REPLICAS * CALLERS * CALLS and timer.stalls > 5  # none dropped
    assert most_in_window(left, 1.0) <= math.ceil(STALLED.rate) + 1


class SlowAnswers:
    """Limits whose answers come back ``rtt`` after the reservation was made, as a database's
    do (a round trip, the commit), counting the slots they grant."""

    def __init__(self, inner: RateLimits, timer: VirtualTimer, rtt: float) -> None:
        self._inner, self._timer, self._rtt = inner, timer, rtt
        self.granted = 0

    async def reserve(
        self,
        pace: Pace,
        free: Sequence[Budget] = (),
        *,
        within: float,
        lead: float = 0.0,
        windows: Sequence[Turn] = (),
    ) -> Grant:
        grant = await self._inner.reserve(pace, free, within=within, lead=lead, windows=windows)
        self.granted += grant.granted
        await self._timer.sleep(self._rtt)
        return grant

    async def pause(self, key: str, seconds: float) -> None:
        await self._inner.pause(key, seconds)


async def test_a_slow_answer_does_not_make_its_slot_late(make: Make, clock: MovableClock) -> None:
    # The answer takes 15 ms, longer than the 10 ms a call may go after its slot at 50/s: a
    # slot granted for "now" would be late on arrival and thrown away, every time the budget
    # is idle. Each call asks for a slot one round trip ahead instead, and goes on it.
    timer = VirtualTimer(clock)
    limits = SlowAnswers(await make(), timer, rtt=0.015)
    left: list[float] = []

    async def caller() -> None:
        for _ in range(CALLS):
            await take(limits, APP, what="create", timer=timer)
            left.append(timer.now())
            await timer.sleep(0.1)  # the budget is idle again at the next call

    await timer.run([caller()])
    assert len(left) == CALLS
    assert limits.granted <= CALLS + 1  # the first call learns the round trip
