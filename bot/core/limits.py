"""Platform rate limits as a port: who may call a platform API when, for every sender of one app.

A platform counts an app's calls wherever they come from, so every gateway replica sending for
the same app must draw on one budget. Each budget is kept as the time of its next free slot (the
generic cell rate algorithm with no burst): a call takes the slot at ``max(now, next)`` and moves
``next`` one interval on. :func:`schedule` is that rule, pure; :class:`RateLimits` is where the
``next`` times live: in this process (``bot.channels.common.ratelimit``) or in the database,
shared by all replicas (``bot.store.limits``).

A call may need several budgets at once (the app's per-API budget and the receiver's): it is
paced by the first and takes the others at the same slot, and only when they are all free by
then. A receiver whose budget is spent is refused at once, not waited for, so the caller can
put that job back and let other receivers' calls through (no head-of-line blocking).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Budget:
    """At most ``rate`` calls a second under ``key`` (e.g. one app's API, or one receiver)."""

    key: str
    rate: float

    @property
    def interval(self) -> float:
        """Seconds between two calls."""
        return 1.0 / self.rate


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation.

    Granted: the slot is taken; call after ``wait`` seconds. Refused: nothing was taken; asking
    again after ``wait`` seconds can succeed.
    """

    granted: bool
    wait: float


def schedule(
    now: float,
    pace: Budget,
    free: Sequence[Budget],
    nexts: Mapping[str, float],
    within: float,
) -> tuple[Grant, dict[str, float]]:
    """The grant for one call at ``now``, and the budgets' new next-slot times (empty: refused).

    ``nexts`` holds each budget's next free slot (a missing key is free now). The call takes
    ``pace``'s next slot if that is at most ``within`` seconds away and every budget in ``free``
    is free by then.
    """
    slot = max(now, nexts.get(pace.key, now))
    # A receiver still busy at the slot refuses the call: waiting for it here would hold a
    # sender's slot while other receivers' calls could go.
    busy = max((nexts.get(b.key, now) for b in free), default=now)
    if busy > slot:
        return Grant(False, busy - now), {}
    if slot - now > within:
        return Grant(False, slot - now - within), {}
    taken = {pace.key: slot + pace.interval}
    taken.update({b.key: slot + b.interval for b in free})
    return Grant(True, slot - now), taken


def paused(now: float, current: float | None, seconds: float) -> float:
    """A budget's next slot after the platform asked for a pause of ``seconds``."""
    return max(current if current is not None else now, now + seconds)


class RateLimits(Protocol):
    """Where the budgets' next-slot times live, for everyone sending for the same apps."""

    async def reserve(self, pace: Budget, free: Sequence[Budget] = (), *, within: float) -> Grant:
        """Take a slot of ``pace`` (and of each of ``free`` at the same time), or refuse."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """The platform throttled this budget: no slot within ``seconds`` from now."""
        ...


@runtime_checkable
class SharedLimits(Protocol):
    """What the gateway hands a channel at start besides its events: the budgets every replica
    on the same database shares (a sink without them leaves the channel its own)."""

    @property
    def limits(self) -> RateLimits | None:
        """The shared budgets (None: none shared)."""
        ...


def shared_or(sink: object, own: RateLimits) -> RateLimits:
    """The budgets ``sink`` shares, else ``own``."""
    shared = sink.limits if isinstance(sink, SharedLimits) else None
    return own if shared is None else shared
