"""Platform rate budgets on PostgreSQL: each reservation is one statement.

The rule is :func:`bot.core.limits.schedule`'s, run by the ``reserve_budgets`` function of
migration 0005 where the budget rows are: the rows are locked, read and written within the one
statement, so a replica that stalls (a busy host, a long callback) never holds the others'
calls, as it did while its reservation was a transaction spanning several round trips. A call
paced by a window also takes its turn in that statement (``reserve_in_windows``, migration
0013). A pause
is rare (the platform throttled us) and stays a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.core.limits import Budget, Grant, Pace, Turn, paces
from bot.store.limits import StoredRateLimits
from bot.store.postgres.queries import ENGINE
from bot.store.postgres.store import PostgresStore


class PostgresRateLimits(StoredRateLimits):
    """``RateLimits`` in the ``rate_limits`` table of a PostgreSQL ``store``, shared by every
    replica on it; a reservation is one round trip."""

    def __init__(self, store: PostgresStore, now: Callable[[], float] = time.time) -> None:
        super().__init__(store, now)
        self._pg = store

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
        ``windows``), no sooner than ``lead``, or refuse; one statement."""
        budgets: dict[str, tuple[Budget, bool]] = {}
        for budget, paced in [*((b, True) for b in paces(pace)), *((b, False) for b in free)]:
            budgets.setdefault(budget.key, (budget, paced))
        chosen = [budgets[key] for key in sorted(budgets)]
        described = (
            [b.key for b, _ in chosen],
            [b.interval for b, _ in chosen],
            [b.tolerance for b, _ in chosen],
            [paced for _, paced in chosen],
            self._now(),
            within,
            lead,
        )
        if not windows:
            row = await self._pg.statement(ENGINE.reserve_budgets, *described)
            assert row is not None  # the function returns one row
            return Grant(bool(row["granted"]), float(row["wait"]), float(row["at"]))
        row = await self._pg.statement(
            ENGINE.reserve_in_windows,
            [w.key for w, _ in windows],
            [kept for _, kept in windows],
            [w.calls for w, _ in windows],
            [w.lane(0.0).interval for w, _ in windows],
            *described,
        )
        assert row is not None
        turns = tuple(float(t) for t in row["turns"])
        return Grant(bool(row["granted"]), float(row["wait"]), float(row["at"]), turns)
