"""Virtual time for paced callers: a clock and sleeps shared by several tasks, and the count of
calls in the busiest window. Time moves only once every task waits on it, to the earliest wake
time (plus the stall the test injects), so a run of minutes takes milliseconds and late
wake-ups happen exactly when the test says."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from tests.support.clock import MovableClock


class VirtualTimer:
    """``bot.channels.common.ratelimit.Timer`` on ``clock``, shared by the tasks of :meth:`run`
    (and by the limits that grant slots by ``clock``)."""

    def __init__(self, clock: MovableClock, stall: Callable[[], float] = lambda: 0.0) -> None:
        self._clock = clock
        self._stall = stall
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._tasks = 0
        self.stalls = 0  # wake-ups made late

    def now(self) -> float:
        """The virtual Unix time."""
        return self._clock()

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on."""
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (self.now() + max(seconds, 0.0), next(self._order), woken))
        self._advance()
        await woken

    async def run(self, callers: Sequence[Coroutine[Any, Any, None]]) -> None:
        """Run ``callers`` together on this clock."""
        self._tasks += len(callers)
        await asyncio.gather(*(self._one(c) for c in callers))

    async def _one(self, caller: Coroutine[Any, Any, None]) -> None:
        try:
            await caller
        finally:
            self._tasks -= 1
            self._advance()

    def _advance(self) -> None:
        # Only when every task waits: one still running (say, in a database call) might take
        # a slot at the present time.
        if not self._waiting or len(self._waiting) < self._tasks:
            return
        at, _, woken = heapq.heappop(self._waiting)
        stall = self._stall()
        self.stalls += stall > 0
        self._clock.advance_to(at + stall)
        woken.set_result(None)


def most_in_window(stamps: Sequence[float], seconds: float) -> int:
    """The most ``stamps`` inside any window ``[t, t + seconds)``."""
    ordered, best, lo = sorted(stamps), 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
