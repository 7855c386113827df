"""The ideal schedule of a storm of platform calls: when each call could go at the earliest,
given when it became due and the platform's limits, with no pacing of our own.

A call draws on one or more budgets (a Lark app's PATCH API, one Lark message); each budget
allows at most ``calls`` in any ``seconds`` for each of its limits ("50/s and 1000 in any
minute"). Calls are served first come, first served within each budget, each at the earliest
moment every one of its budgets allows: for identical calls sharing one budget no order does
better at any percentile of the completion times. (Where a per-message budget delays a call,
a later call of the same API does not overtake it: an ideal sender in arrival order. A redraw
storm updates each message once, so that never binds there.)

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    """At most ``calls`` in any window of ``seconds``."""

    calls: int
    seconds: float


@dataclass(frozen=True)
class Budget:
    """A named set of limits that several calls draw on together (one API, one message)."""

    name: str
    limits: tuple[Limit, ...]


@dataclass(frozen=True)
class Call:
    """One platform call: due at ``due``, drawing on each of ``budgets``."""

    due: float
    budgets: tuple[Budget, ...]


@dataclass
class _Ledger:
    """The times already taken in one budget, in order."""

    budget: Budget
    taken: list[float] = field(default_factory=list)

    def earliest(self, t: float) -> float:
        """The earliest moment at or after ``t`` the budget allows one more call."""
        if self.taken:
            t = max(t, self.taken[-1])  # first come, first served within the budget
        for limit in self.budget.limits:
            if len(self.taken) >= limit.calls:
                # The call ``calls`` back must have left the window: with times in order, the
                # window that ends at ``t`` is the only one the new call can overfill.
                t = max(t, self.taken[-limit.calls] + limit.seconds)
        return t


def schedule(
    calls: Sequence[Call], prior: Mapping[str, Iterable[float]] | None = None
) -> list[float]:
    """The earliest time each call could go (in the order given), calls taken in order of
    ``due``; ``prior``: times of calls each budget (by name) already took before the storm."""
    ledgers: dict[str, _Ledger] = {}

    def ledger(budget: Budget) -> _Ledger:
        if budget.name not in ledgers:
            earlier = sorted((prior or {}).get(budget.name, ()))
            ledgers[budget.name] = _Ledger(budget, earlier)
        return ledgers[budget.name]

    times = [0.0] * len(calls)
    for i in sorted(range(len(calls)), key=lambda k: calls[k].due):
        call = calls[i]
        books = [ledger(b) for b in call.budgets]
        t = call.due
        while True:  # a budget's answer may move the call past another's window: settle
            moved = max((book.earliest(t) for book in books), default=t)
            if moved == t:
                break
            t = moved
        for book in books:
            book.taken.append(t)
        times[i] = t
    return times


def completions(decided: Sequence[float], cards: Sequence[tuple[int, float]]) -> list[float | None]:
    """Decision → every one of its cards redrawn, per decision: ``cards`` holds (index of the
    decision in ``decided``, when the card was redrawn); None for a decision with no card."""
    last: dict[int, float] = {}
    for index, at in cards:
        last[index] = max(at, last.get(index, at))
    return [last[i] - t if i in last else None for i, t in enumerate(decided)]
