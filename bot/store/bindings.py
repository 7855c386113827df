"""Bindings between cloud accounts and chat identities (account_id ↔ address per channel)."""

from __future__ import annotations

from datetime import datetime

from bot.store.codec import ts
from bot.store.sqlite import SqliteStore


class BindingStore:
    """Reads and writes identity bindings."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def set(
        self, account_id: str, channel: str, address: str, *, by: str, method: str, at: datetime
    ) -> None:
        """Bind (or re-bind) ``account_id`` on ``channel`` to ``address``."""
        async with self._store.write() as tx:
            await tx.execute(
                "INSERT INTO bindings (account_id, channel, address, bound_by, method, bound_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, channel) DO UPDATE SET "
                "address = excluded.address, bound_by = excluded.bound_by, "
                "method = excluded.method, bound_at = excluded.bound_at",
                (account_id, channel, address, by, method, ts(at)),
            )
