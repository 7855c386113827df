"""One transaction on an engine's connection: its named queries (``sql``) and three primitives
each engine implements (:class:`EngineTx`); :class:`SqliteTx` is SQLite's. The repositories of
``bot.store.repos`` run their queries through these primitives, and a unit of work
(``bot.store.repos.unit``) binds them all to one transaction.

SQLite's primitives are coroutines (the interface is the same for every engine) but run inline:
the transaction's connection is already ours, so a statement costs microseconds and no thread
round trip (see ``bot.store.group_commit``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from bot.errors import Conflict, StoreError
from bot.store.queries import Queries

Row = Any  # a result row: by column name (and position), whatever the engine's driver returns
Params = Sequence[Any] | dict[str, Any]


class EngineTx:
    """Typed queries on a connection that is inside a transaction, on any engine."""

    sql: Queries  # the engine's named queries
    open: bool  # False once its transaction has committed or rolled back
    # True where a statement carries the rows that hang off the one it writes or reads, as JSON
    # columns: insert_delivery and set_delivery_state write the events, get_delivery and
    # deliveries_of_request return ``events``, the request queries return ``decision`` and
    # ``deliveries`` (PostgreSQL: each statement is a round trip). Else those rows have
    # statements of their own (SQLite: statements run inline, and it has no writing CTEs).
    rows_carry_children = False

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; how many rows it changed (StoreError in a read-only transaction)."""
        raise NotImplementedError

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        raise NotImplementedError


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


class Scope(Protocol):
    """Where a store adapter's statements run: in transactions of their own (an engine store),
    or in one unit of work's transaction (:class:`Bound`)."""

    @property
    def sql(self) -> Queries: ...
    def write(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]: ...
    def read(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]: ...


class Bound:
    """A :class:`Scope` that is one open transaction: an adapter built on it acts inside that
    transaction (a unit of work's), and commits with it."""

    def __init__(self, tx: EngineTx) -> None:
        self._tx = tx

    @property
    def sql(self) -> Queries:
        """The engine's named queries."""
        return self._tx.sql

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[EngineTx]:
        """The bound transaction itself (it commits when its unit does)."""
        yield self._tx

    @asynccontextmanager
    async def read(self, *, urgent: bool = False) -> AsyncIterator[EngineTx]:
        """The bound transaction itself, with its changes so far."""
        yield self._tx
