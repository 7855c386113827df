"""Client-side pacing of platform API calls, shared by the Lark and DingTalk clients.

:class:`LocalLimits` keeps the budgets of ``bot.core.limits`` in this process: enough for one
gateway; replicas sharing a database use ``bot.store.limits.StoredRateLimits`` instead.
:func:`take` is how a client spends a budget: it waits for a granted slot, and raises
:class:`~bot.errors.ChannelDeferred` when the receiver's budget is spent, so the job goes back to
the outbox instead of holding a send slot.

Slots are spaced one interval apart for every replica, but the platform counts arrivals: a
task sleeping until its slot goes when its event loop gets to it, and after a stall (a busy
host, a long callback) several late ones would go together and make a burst over the limit.
So a call that wakes more than ``late`` after its slot (:data:`LATE_SHARE` of the smallest
interval of its budgets) does not go: it takes a fresh slot (at most :data:`RESERVE_TRIES`
times, then the job is put back). Every call then leaves within ``late`` of a slot, wherever it
runs, and the calls leaving in any one second had their slots in ``1 + late`` seconds: at most
``ceil(rate * (1 + late))`` of a budget from all replicas together, which is at most
``ceil(rate + LATE_SHARE)``: ``rate + 1`` for a whole rate. The rest of what the platform allows
is the margin for the way from this check to the platform (the HTTP write, the network):
``bot.settings.config`` argues each budget against its platform's limit.

A reservation takes time to come back (a database round trip, on a busy host tens of
milliseconds): a slot granted "now" would already be late when the caller learns of it, and
be thrown away. So each call asks for a slot no sooner than the round trips of its limits have
lately taken (:class:`RoundTrips`): the answer arrives before the slot, and the call goes on
time. While the budget is booked ahead this costs nothing; when it is idle, a call waits that
round trip once more.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from bot.core.limits import (
    Budget,
    Grant,
    Pace,
    RateLimits,
    Turn,
    Window,
    lanes,
    paces,
    paused,
    schedule,
    turns,
)
from bot.errors import ChannelDeferred
from bot.logs import kv

log = logging.getLogger("bot.channels.ratelimit")

# How far ahead a call may book the app's budget and wait for it in place. Beyond this (the app
# is booked out by other senders or replicas) the job is put back rather than hold its slot.
PACE_WITHIN = 2.0
# A card update runs in its platform's own lane (bot.core.lanes): while it waits for its slot
# it holds only other updates of that platform, which wait for the same budget. Put back, it
# would come due behind the updates queued after it and lose its place (on three replicas, a
# fifth of a redraw storm's updates went round again); so it waits in place this long.
UPDATE_WITHIN = 10.0
# How late after its slot a call may still go, as a share of its budgets' smallest interval.
# Half: the bound above stays rate + 1 for a whole rate, and half an interval is left for the
# call's way to the platform.
LATE_SHARE = 0.5
RESERVE_TRIES = 3  # late wake-ups in a row before the job is put back
# The lead asked for follows the slowest recent round trip, forgetting this share of it at each
# reservation, and never asks for more than MAX_LEAD (a stall that long is not a round trip).
LEAD_KEEP = 0.9
MAX_LEAD = 0.25


class LocalLimits:
    """``RateLimits`` in this process's memory (one gateway; not shared with replicas)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._next: dict[str, float] = {}

    async def reserve(
        self,
        pace: Pace,
        free: Sequence[Budget] = (),
        *,
        within: float,
        lead: float = 0.0,
        windows: Sequence[Turn] = (),
    ) -> Grant:
        """Take a slot of ``pace`` (and of each of ``free``, and of a lane of each of
        ``windows``), no sooner than ``lead``, or refuse."""
        now = self._now()
        got, moved = turns(now, windows, self._next)
        self._next.update(moved)
        paced = (*paces(pace), *lanes(windows, got))
        keys = [b.key for b in (*paced, *free)]
        nexts = {k: self._next[k] for k in keys if k in self._next}
        grant, taken = schedule(now, paced, free, nexts, within, lead)
        self._next.update(taken)
        return replace(grant, turns=tuple(got))

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key`` within ``seconds`` from now."""
        now = self._now()
        self._next[key] = paused(now, self._next.get(key), seconds)


class Timer(Protocol):
    """The clock a call waits for its slot on: the one its ``RateLimits`` grants slots by."""

    def now(self) -> float:
        """Unix seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemTimer:
    """Wall-clock seconds (what ``LocalLimits`` and ``StoredRateLimits`` grant slots by)."""

    def now(self) -> float:
        """Unix seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the event loop."""
        await asyncio.sleep(seconds)


SYSTEM_TIMER = SystemTimer()


class RoundTrips:
    """How long reservations of each ``RateLimits`` have lately taken to come back: the lead a
    call asks its slot to have (a decaying maximum, per limits)."""

    def __init__(self) -> None:
        self._leads: weakref.WeakKeyDictionary[RateLimits, float] = weakref.WeakKeyDictionary()

    def lead(self, limits: RateLimits) -> float:
        """The lead for the next reservation of ``limits``."""
        return self._leads.get(limits, 0.0)

    def took(self, limits: RateLimits, seconds: float) -> None:
        """A reservation of ``limits`` came back after ``seconds``."""
        kept = self._leads.get(limits, 0.0) * LEAD_KEEP
        self._leads[limits] = min(MAX_LEAD, max(seconds, kept))


ROUND_TRIPS = RoundTrips()


async def take(
    limits: RateLimits,
    pace: Pace,
    free: Sequence[Budget] = (),
    *,
    what: str,
    timer: Timer = SYSTEM_TIMER,
    windows: Sequence[Window] = (),
    within: float = PACE_WITHIN,
) -> None:
    """Wait for a slot of ``pace``, of a lane of each of ``windows``, and of ``free``, and
    return when the call may go; a fresh slot (and lane) when woken too late for it;
    ChannelDeferred when no slot can be had within ``within`` seconds."""
    late = LATE_SHARE * min(b.interval for b in (*paces(pace), *free))
    for _ in range(RESERVE_TRIES):
        kept = [(w, TURNS.kept(limits, w)) for w in windows]
        asked = timer.now()
        lead = ROUND_TRIPS.lead(limits)
        # One reservation for the window's turn, its lane and the rest: one transaction.
        grant = await limits.reserve(pace, free, within=within, lead=lead, windows=kept)
        ROUND_TRIPS.took(limits, timer.now() - asked)
        if not grant.granted:
            for window, turn in zip(windows, grant.turns, strict=True):
                TURNS.give_back(limits, window, turn)
            raise ChannelDeferred(f"{what}: rate budget spent", retry_after=grant.wait)
        lateness = await _until(timer, grant.at)
        if lateness <= late:
            return
        log.debug("woken late for a slot; taking another", extra=kv(api=what, late=lateness))
    raise ChannelDeferred(f"{what}: woken late for {RESERVE_TRIES} slots", retry_after=late)


class Turns:
    """Turns of windows (``bot.core.limits.Window``) whose call was refused, for this process's
    next calls to take before new ones.

    A window's lanes come free in the order of their turns; a refused call took a turn but not
    its lane. Were that turn lost, the next calls would take the lanes after it while it stays
    free, and once the window is full (every call refused until a lane frees) the new turns
    would run ahead of the lanes coming free by as many calls as were refused: slots a whole
    window late. So a refused turn is handed to the next call here instead. Either way a lane
    holds one call per window: what lane a call takes costs speed, never the window's bound.
    """

    def __init__(self) -> None:
        self._kept: weakref.WeakKeyDictionary[RateLimits, dict[str, list[float]]] = (
            weakref.WeakKeyDictionary()
        )

    def kept(self, limits: RateLimits, window: Window) -> float | None:
        """The earliest turn given back (now the caller's), else None: take the window's next."""
        kept = self._kept.get(limits, {}).get(window.key)
        return heapq.heappop(kept) if kept else None

    def give_back(self, limits: RateLimits, window: Window, turn: float) -> None:
        """``turn``'s lane was not taken: the next call takes it."""
        heapq.heappush(self._kept.setdefault(limits, {}).setdefault(window.key, []), turn)


TURNS = Turns()


async def _until(timer: Timer, at: float) -> float:
    """Sleep until ``at``; how late after it this task runs again."""
    while (left := at - timer.now()) > 0:
        await timer.sleep(left)
    return timer.now() - at
