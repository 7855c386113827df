"""Client-side pacing of platform API calls, shared by the Lark and DingTalk clients.

:class:`LocalLimits` keeps the budgets of ``bot.core.limits`` in this process: enough for one
gateway; replicas sharing a database use ``bot.store.limits.StoredRateLimits`` instead.
:func:`take` is how a client spends a budget: it waits for a granted slot, and raises
:class:`~bot.errors.ChannelDeferred` when the receiver's budget is spent, so the job goes back to
the outbox instead of holding a send slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from bot.core.limits import Budget, Grant, RateLimits, paused, schedule
from bot.errors import ChannelDeferred

# How far ahead a call may book the app's budget and wait for it in place. Beyond this (the app
# is booked out by other senders or replicas) the job is put back rather than hold its slot.
PACE_WITHIN = 2.0


class LocalLimits:
    """``RateLimits`` in this process's memory (one gateway; not shared with replicas)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._next: dict[str, float] = {}

    async def reserve(self, pace: Budget, free: Sequence[Budget] = (), *, within: float) -> Grant:
        """Take a slot of ``pace`` (and of each of ``free``), or refuse."""
        now = self._now()
        keys = [pace.key, *(b.key for b in free)]
        nexts = {k: self._next[k] for k in keys if k in self._next}
        grant, taken = schedule(now, pace, free, nexts, within)
        self._next.update(taken)
        return grant

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key`` within ``seconds`` from now."""
        now = self._now()
        self._next[key] = paused(now, self._next.get(key), seconds)


class Departures:
    """At most ``ceil(rate)`` calls of a budget leave this process in any second.

    Slots are evenly spaced, but a task sleeping until its slot wakes when the event loop gets
    to it: after a busy moment several late ones leave together, and the platform, which counts
    arrivals in every second, sees a burst over its limit. Holding back a call that would make
    this second's departures more than the budget allows keeps even a late batch within it.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._left: dict[str, deque[float]] = {}

    def book(self, budgets: Sequence[Budget]) -> float:
        """Book this call's departure, the first moment every budget has room in the second
        before it: the seconds from now to wait for it."""
        now = self._now()
        at = now
        for budget in budgets:
            most = max(1, math.ceil(budget.rate))
            left = self._left.setdefault(budget.key, deque(maxlen=most))
            if left:
                at = max(at, left[-1], left[0] + 1.0 if len(left) == most else now)
        for budget in budgets:
            self._left[budget.key].append(at)  # booked before waiting: no two take one place
        return at - now


async def take(
    limits: RateLimits,
    pace: Budget,
    free: Sequence[Budget] = (),
    *,
    what: str,
    departures: Departures | None = None,
) -> None:
    """Wait for a slot of ``pace`` and ``free``, then (with ``departures``) for room in this
    second; ChannelDeferred when the slot cannot be had soon."""
    grant = await limits.reserve(pace, free, within=PACE_WITHIN)
    if not grant.granted:
        raise ChannelDeferred(f"{what}: rate budget spent", retry_after=grant.wait)
    if grant.wait > 0:
        await asyncio.sleep(grant.wait)
    later = departures.book([pace, *free]) if departures is not None else 0.0
    if later > 0:
        await asyncio.sleep(later)
