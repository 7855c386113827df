"""One transaction on an engine's connection: its named queries (``sql``) and three primitives
each engine implements (:class:`EngineTx`: ``bot.store.sqlite.tx.SqliteTx``,
``bot.store.postgres.tx.PostgresTx``). The repositories of ``bot.store.repos`` run their queries
through these primitives, and a unit of work (``bot.store.repos.unit``) binds them all to one
transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import MappingProxyType
from typing import Any, Protocol

from bot.errors import StoreError
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
    # Bindings a statement read beside its own rows, (account, channel) -> address or None:
    # PostgreSQL's request_for_vote reads the clicked channel's bindings of the request's
    # approvers under the request's lock. Answered from here until the transaction writes.
    read_ahead: Mapping[tuple[str, str], str | None] = MappingProxyType({})

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; how many rows it changed (StoreError in a read-only transaction)."""
        raise NotImplementedError

    async def defer(self, sql: str, params: Params = (), *, changes: int | None = None) -> None:
        """Run a write whose outcome the caller does not read (no count, no rows), at the
        latest before the transaction's next statement or its commit: an engine where each
        statement is a round trip sends the writes held this way together, as one. Here: now.
        ``changes``: the count the write must make (or return), which the caller is sure of;
        any other fails the transaction (StoreError) where it would have been read."""
        changed = await self.execute(sql, params)
        if changes is not None and changed != changes:
            raise StoreError(f"a write expected to change {changes} row(s) changed {changed}")

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        raise NotImplementedError


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
