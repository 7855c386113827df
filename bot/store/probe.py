"""Readiness and gauges of the SQLite store, behind the core ``StoreHealth`` port."""

from __future__ import annotations

from bot.core.storage import StoreGauges
from bot.store.engine import EngineStore


class StoreProbe:
    """Answers ``/readyz`` and ``/metrics`` about one ``SqliteStore``."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store

    async def problem(self) -> str | None:
        """None when both connections are open and a write goes through, else why not."""
        if not self._store.is_open:
            return "closed"
        return await self._store.writable()

    def listener(self) -> tuple[bool, str] | None:
        """Whether this process hears the other replicas' NOTIFYs, and its state in words;
        None on an engine no other process writes."""
        if not self._store.shared:
            return None
        problem = self._store.listener_problem()
        return problem is None, problem or "listening"

    async def gauges(self) -> StoreGauges:
        """Outbox depth, deliveries and requests, read in one transaction (after folding the
        counts' deltas in, on an engine that keeps them so)."""
        await self._store.fold_counts()
        async with self._store.read() as tx:
            outbox = await tx.fetch_all(tx.sql.outbox_depth)
            deliveries = await tx.fetch_all(tx.sql.delivery_counts)
            requests = await tx.fetch_all(tx.sql.request_counts)
        return StoreGauges(
            outbox={row["kind"]: row["n"] for row in outbox},
            deliveries={(row["channel"], row["state"]): row["n"] for row in deliveries},
            requests={row["status"]: row["n"] for row in requests},
        )
