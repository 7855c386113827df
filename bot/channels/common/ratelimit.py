"""Client-side pacing of platform API calls, shared by the Lark and DingTalk clients.

:class:`LocalLimits` keeps the budgets of ``bot.core.limits`` in this process: enough for one
gateway; replicas sharing a database use ``bot.store.limits.StoredRateLimits`` instead.
:func:`take` is how a client spends a budget: it waits for a granted slot, and raises
:class:`~bot.errors.ChannelDeferred` when the receiver's budget is spent, so the job goes back to
the outbox instead of holding a send slot.
"""

from __future__ import annotations

import asyncio
import time
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


async def take(limits: RateLimits, pace: Budget, free: Sequence[Budget] = (), *, what: str) -> None:
    """Wait for a slot of ``pace`` and ``free``; ChannelDeferred when it cannot be had soon."""
    grant = await limits.reserve(pace, free, within=PACE_WITHIN)
    if not grant.granted:
        raise ChannelDeferred(f"{what}: rate budget spent", retry_after=grant.wait)
    if grant.wait > 0:
        await asyncio.sleep(grant.wait)
