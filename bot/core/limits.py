"""Platform rate limits as a port: who may call a platform API when, for every sender of one app.

A platform counts an app's calls wherever they come from, so every gateway replica sending for
the same app must draw on one budget. Each budget is kept as one number, the time of its next
free slot (the theoretical arrival time of the generic cell rate algorithm): a call takes the
slot at ``max(now, next - tolerance)`` and moves ``next`` one interval on from
``max(slot, next)``. With ``burst`` 1 the tolerance is 0 and calls are evenly spaced; with a
larger ``burst``, up to that many calls may go early (as fast as the budget's other budgets
let them) before the budget holds them to its ``rate``. In any span of ``s`` seconds a budget
grants at most ``burst + s * rate`` slots. :func:`schedule` is that rule, pure;
:class:`RateLimits` is where the ``next`` times live: in this process
(``bot.channels.common.ratelimit``) or in the database, shared by all replicas
(``bot.store.limits``). The composition root (``bot.app.storage``) chooses one, once, and every
channel takes that same object from its factory.

A rate with a burst still admits ``burst + s * rate`` in any ``s`` seconds, so a limit of "so
many calls in any minute" held by one (Lark's 1000 a minute, beside 50 a second) must spend
most of the minute's calls on the rate and let only a small burst go at the per-second pace.
A :class:`Window` holds such a limit as a sliding window instead: ``calls`` lanes, each a budget
of one call per ``seconds``, with each call taking the lane after the last one taken (a shared
counter, itself a budget: :meth:`Window.cursor`). A lane's calls are ``seconds`` apart, so any
span shorter than that holds at most one call of each lane: at most ``calls``, whoever sent
them and whatever lane they took; and as lanes are taken in turn, call ``k`` waits only for
call ``k - calls`` to be ``seconds`` old: a burst goes at the per-second pace until the
window's calls would be exceeded. Every lane and the counter are ordinary budgets, one number
each, so every :class:`RateLimits` keeps a window as it keeps the rest.

A call may need several budgets at once: the ones that pace it (an API's per-second and
per-minute budgets: its slot is the first time all of them allow) and the ones it takes at the
same slot only when they are free by then (the receiver's). A receiver whose budget is spent is
refused at once, not waited for, so the caller can put that job back and let other receivers'
calls through (no head-of-line blocking).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Budget:
    """At most ``rate`` calls a second under ``key`` (e.g. one app's API, or one receiver), of
    which up to ``burst`` may go at once after a quiet spell."""

    key: str
    rate: float
    burst: int = 1

    @property
    def interval(self) -> float:
        """Seconds between two calls."""
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of its next slot the budget lets a call go (0: none)."""
        return (self.burst - 1) * self.interval


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation.

    Granted: the slot is taken; call after ``wait`` seconds, at ``at`` on the clock of the
    limits that granted it. Refused: nothing was taken; asking again after ``wait`` seconds can
    succeed (``at`` is then that time).
    """

    granted: bool
    wait: float
    at: float
    turns: tuple[float, ...] = ()  # each window's turn, taken whether granted or not


Pace = Budget | Sequence[Budget]


# A counter's reservation never waits: any slot of it will do (see Window.cursor).
COUNT_WITHIN = 1e12


@dataclass(frozen=True)
class Window:
    """At most ``calls`` calls under ``key`` in any ``seconds``, a sliding window: ``calls``
    lanes of one call per ``seconds``, taken in turn by a counter shared like the budgets."""

    key: str
    calls: int
    seconds: float

    @property
    def cursor(self) -> Budget:
        """The window's counter: a budget of one call a second reserved alone with no bound on
        the wait (:data:`COUNT_WITHIN`). Its slot is ``max(now, last slot + 1)``: each
        reservation gets a whole second more than the one before (its turn), or the clock
        when that is later (after a quiet spell: a turn above every recent one)."""
        return Budget(f"{self.key}:turn", 1.0)

    def lane(self, turn: float) -> Budget:
        """The lane the counter's slot ``turn`` falls on: turns a whole second apart take
        successive lanes, so a lane comes round again only after ``calls`` turns."""
        return Budget(f"{self.key}:lane:{math.floor(turn) % self.calls}", 1.0 / self.seconds)


def paces(pace: Pace) -> tuple[Budget, ...]:
    """The budgets that pace a call (one budget or several)."""
    return (pace,) if isinstance(pace, Budget) else tuple(pace)


def earliest(budget: Budget, nexts: Mapping[str, float], now: float) -> float:
    """The first time ``budget`` allows a call (a missing key is free now)."""
    return max(now, nexts.get(budget.key, now) - budget.tolerance)


def schedule(
    now: float,
    pace: Pace,
    free: Sequence[Budget],
    nexts: Mapping[str, float],
    within: float,
    lead: float = 0.0,
) -> tuple[Grant, dict[str, float]]:
    """The grant for one call at ``now``, and the budgets' new next-slot times (empty: refused).

    ``nexts`` holds each budget's next free slot (a missing key is free now). The call takes the
    first slot every budget of ``pace`` allows, no sooner than ``lead`` seconds from now, if that
    is at most ``within`` seconds away and every budget in ``free`` allows a call by then.
    """
    paced = paces(pace)
    start = now + lead
    slot = max(earliest(b, nexts, start) for b in paced)
    # A receiver still busy at the slot refuses the call: waiting for it here would hold a
    # sender's slot while other receivers' calls could go.
    busy = max((earliest(b, nexts, start) for b in free), default=start)
    if busy > slot:
        return Grant(False, busy - now, busy), {}
    if slot - now > within:
        return Grant(False, slot - now - within, slot - within), {}
    taken = {b.key: max(slot, nexts.get(b.key, slot)) + b.interval for b in (*paced, *free)}
    return Grant(True, slot - now, slot), taken


# A window a call takes a lane of, with the turn a refused call gave back for it (None: the
# window's next turn).
Turn = tuple[Window, float | None]


def turns(
    now: float, windows: Sequence[Turn], nexts: Mapping[str, float]
) -> tuple[list[float], dict[str, float]]:
    """Each window's turn (the one given back, else its counter's slot, as a reservation of
    :meth:`Window.cursor` alone would take it), and the counters' new next-slot times."""
    taken: dict[str, float] = {}
    got: list[float] = []
    for window, kept in windows:
        if kept is not None:
            got.append(kept)
            continue
        grant, moved = schedule(now, window.cursor, (), {**nexts, **taken}, COUNT_WITHIN)
        got.append(grant.at)
        taken.update(moved)
    return got, taken


def lanes(windows: Sequence[Turn], turns: Sequence[float]) -> tuple[Budget, ...]:
    """The lane of each window its turn falls on."""
    return tuple(w.lane(t) for (w, _), t in zip(windows, turns, strict=True))


def paused(now: float, current: float | None, seconds: float) -> float:
    """A budget's next slot after the platform asked for a pause of ``seconds``."""
    return max(current if current is not None else now, now + seconds)


class RateLimits(Protocol):
    """Where the budgets' next-slot times live, for everyone sending for the same apps."""

    async def reserve(
        self,
        pace: Pace,
        free: Sequence[Budget] = (),
        *,
        within: float,
        lead: float = 0.0,
        windows: Sequence[Turn] = (),
    ) -> Grant:
        """Take a slot of ``pace`` (and of each of ``free`` at the same time), no sooner than
        ``lead`` seconds from now (what the answer takes to come back), or refuse.

        With ``windows``, first take each window's turn (:func:`turns`; taken even when the
        call is refused: the grant's ``turns``, for the caller to give back) and pace the call
        by the lanes they fall on too: all of it at once (one transaction where they are
        stored)."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """The platform throttled this budget: its next slot no sooner than ``seconds`` from
        now (for a budget with a burst, calls within its tolerance of that may still go: pause
        a budget without one)."""
        ...
