"""Platform rate budgets in the database (``rate_limits``), shared by every gateway replica.

On SQLite each reservation is one write transaction (with a window's turn, when it has one) of
three statements: read the budgets' next free slots (a budget with no row is free now), apply
:func:`bot.core.limits.schedule`, write back what it took in one statement (it was eight: a seed
and a read before the turns and after them, and one write per budget). Two replicas never take
the same slot: SQLite serialises its writers (PostgreSQL reserves in one statement that locks
the rows: ``bot.store.postgres.limits``). A refused reservation changes no slot. Times are Unix
seconds from each replica's own clock, so replicas must keep their clocks in step (NTP:
milliseconds, well inside a 20 ms slot at 50 calls/s).
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
        # Three statements: the counters with the budgets known before the turns, then the
        # lanes the turns fall on, then one write of every budget moved. SQLite serialises
        # write transactions, so what is read here stays ours until the commit; a key with no
        # row is free now (as a row of 0 would be).
        async with self._store.write() as tx:
            counters = {w.cursor.key for w, kept in windows if kept is None}
            nexts = await _read(tx, {*counters, *(b.key for b in (*paces(pace), *free))})
            now = self._now()  # read inside the transaction: the slot is ours from here
            got, moved = turns(now, windows, nexts)
            paced = (*paces(pace), *lanes(windows, got))
            nexts |= await _read(tx, {b.key for b in paced} - nexts.keys())
            grant, taken = schedule(now, paced, free, nexts, within, lead)
            await _write(tx, moved | taken)
        return replace(grant, turns=tuple(got))

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of ``key`` within ``seconds`` from now (and sweep a few idle budgets)."""
        async with self._store.write() as tx:
            current = (await _lock(tx, [key])).get(key)
            now = self._now()
            await tx.execute(tx.sql.set_budget, (key, paused(now, current, seconds)))
            await tx.execute(tx.sql.sweep_budgets, (now - IDLE_SECONDS, SWEEP_BATCH))


async def _read(tx: EngineTx, keys: set[str]) -> dict[str, float]:
    """The next free slot of each of ``keys`` that has a row."""
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = await tx.fetch_all(tx.sql.read_budgets.format(marks=marks), sorted(keys))
    return {r["key"]: float(r["next_at"]) for r in rows}


async def _write(tx: EngineTx, nexts: dict[str, float]) -> None:
    if nexts:
        rows = ", ".join("(?, ?)" for _ in nexts)
        values = [v for key, next_at in sorted(nexts.items()) for v in (key, next_at)]
        await tx.execute(tx.sql.set_budgets.format(rows=rows), values)


async def _lock(tx: EngineTx, keys: Sequence[str]) -> dict[str, float]:
    """The next free slot of each of ``keys`` (sorted), their rows held for this transaction;
    a new budget is free now (its row starts at 0)."""
    marks = ", ".join("?" * len(keys))
    await tx.execute(tx.sql.seed_budgets.format(rows=", ".join("(?, 0)" for _ in keys)), keys)
    rows = await tx.fetch_all(tx.sql.read_budgets.format(marks=marks), keys)
    return {r["key"]: float(r["next_at"]) for r in rows}
