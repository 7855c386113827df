"""Platform rate budgets in the database (``rate_limits``), shared by every gateway replica.

Each reservation is one write transaction (with a window's turn, when it has one): make sure each budget has a row, read (and, on
PostgreSQL, lock) the budgets' next free slots, apply :func:`bot.core.limits.schedule`, write
back what it took. Two replicas never take the same slot: SQLite serialises its writers, and
PostgreSQL's rows are locked in key order until the commit. A refused reservation changes no
slot. Times are Unix seconds from each replica's own clock, so replicas must keep their clocks
in step (NTP: milliseconds, well inside a 20 ms slot at 50 calls/s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.core.limits import Budget, Grant, Pace, Turn, lanes, paces, paused, schedule, turns
from bot.store.engine import EngineStore
from bot.store.tx import EngineTx

IDLE_SECONDS = 3600.0  # a budget untouched this long is free: its row may go
SWEEP_BATCH = 20  # rows dropped per pause at most


class StoredRateLimits:
    """``RateLimits`` kept in the ``rate_limits`` table of ``store``."""

    def __init__(self, store: EngineStore, now: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = now

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
        ``windows``), no sooner than ``lead``, or refuse; one transaction."""
        async with self._store.write() as tx:
            counters = sorted({w.cursor.key for w, kept in windows if kept is None})
            nexts = await _lock(tx, counters) if counters else {}
            now = self._now()  # read inside the transaction: the slot is ours from here
            got, moved = turns(now, windows, nexts)
            paced = (*paces(pace), *lanes(windows, got))
            nexts = await _lock(tx, sorted({b.key for b in (*paced, *free)}))
            grant, taken = schedule(now, paced, free, nexts, within, lead)
            for key, next_at in (moved | taken).items():
                await tx.execute(tx.sql.set_budget, (key, next_at))
        return replace(grant, turns=tuple(got))

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key`` within ``seconds`` from now (and sweep a few idle budgets)."""
        async with self._store.write() as tx:
            current = (await _lock(tx, [key])).get(key)
            now = self._now()
            await tx.execute(tx.sql.set_budget, (key, paused(now, current, seconds)))
            await tx.execute(tx.sql.sweep_budgets, (now - IDLE_SECONDS, SWEEP_BATCH))


async def _lock(tx: EngineTx, keys: Sequence[str]) -> dict[str, float]:
    """The next free slot of each of ``keys`` (sorted), their rows held for this transaction;
    a new budget is free now (its row starts at 0)."""
    marks = ", ".join("?" * len(keys))
    await tx.execute(tx.sql.seed_budgets.format(rows=", ".join("(?, 0)" for _ in keys)), keys)
    rows = await tx.fetch_all(tx.sql.read_budgets.format(marks=marks), keys)
    return {r["key"]: float(r["next_at"]) for r in rows}
