"""Platform rate budgets in the database (``rate_limits``), shared by every gateway replica.

Each reservation is one write transaction: read the budgets' next free slots, apply
:func:`bot.core.limits.schedule`, write back what it took. The store's write transactions are
serialised, so two replicas never take the same slot; a refused reservation writes nothing. Times
are Unix seconds from each replica's own clock, so replicas must keep their clocks in step (NTP:
milliseconds, well inside a 20 ms slot at 50 calls/s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.core.limits import Budget, Grant, paused, schedule
from bot.store.queries import SQL
from bot.store.sqlite import SqliteStore

IDLE_SECONDS = 3600.0  # a budget untouched this long is free: its row may go
SWEEP_BATCH = 20  # rows dropped per pause at most


class StoredRateLimits:
    """``RateLimits`` kept in the ``rate_limits`` table of ``store``."""

    def __init__(self, store: SqliteStore, now: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = now

    async def reserve(self, pace: Budget, free: Sequence[Budget] = (), *, within: float) -> Grant:
        """Take a slot of ``pace`` (and of each of ``free``), or refuse; one transaction."""
        keys = [pace.key, *(b.key for b in free)]
        async with self._store.write() as tx:
            rows = await tx.fetch_all(
                SQL.read_budgets.format(marks=", ".join("?" * len(keys))), keys
            )
            now = self._now()  # read inside the transaction: the slot is ours from here
            grant, taken = schedule(now, pace, free, {r["key"]: r["next_at"] for r in rows}, within)
            for key, next_at in taken.items():
                await tx.execute(SQL.set_budget, (key, next_at))
        return grant

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key`` within ``seconds`` from now (and sweep a few idle budgets)."""
        async with self._store.write() as tx:
            rows = await tx.fetch_all(SQL.read_budgets.format(marks="?"), [key])
            now = self._now()
            current = rows[0]["next_at"] if rows else None
            await tx.execute(SQL.set_budget, (key, paused(now, current, seconds)))
            await tx.execute(SQL.sweep_budgets, (now - IDLE_SECONDS, SWEEP_BATCH))
