"""One transaction on the SQLite connection this task holds.

The primitives are coroutines (the interface is the same for every engine) but run inline: the
transaction's connection is already ours, so a statement costs microseconds and no thread round
trip (see ``bot.store.sqlite.group_commit``).
"""

from __future__ import annotations

import sqlite3

from bot.errors import Conflict, StoreError
from bot.store.queries import Queries
from bot.store.tx import EngineTx, Params, Row


class SqliteTx(EngineTx):
    """A transaction on the SQLite connection this task holds (statements run inline)."""

    def __init__(self, raw: sqlite3.Connection, sql: Queries, *, writable: bool) -> None:
        self._raw = raw
        self.sql = sql
        self._writable = writable
        self.open = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self.run(sql, params).rowcount

    def run(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """Execute one changing statement now, on this loop (see the module docstring)."""
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        if not self.open:
            raise StoreError("the transaction has ended")
        try:
            return self._raw.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            # As on every engine: a unique constraint refusing a second row is a Conflict.
            if "UNIQUE" in str(exc):
                raise Conflict(f"already stored: {exc}") from exc
            raise

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._raw.execute(sql, params).fetchall()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._raw.execute(sql, params).fetchone()
        return row
