"""The engine seam: what every storage engine offers the repositories written once in
``bot.store``, and the one place that picks the engine from the settings.

An engine is a package with its named queries (the names of ``bot.store.queries.Queries``: the
shared ones of ``bot/store/sql`` and its own ``sql/*.sql`` where its dialect differs), its own
``sql/engine.sql`` and its own versioned migrations; its
store hands out :class:`~bot.store.tx.EngineTx` transactions carrying those queries. SQLite
(``bot.store.sqlite``) is the default; ``APPROVAL_GATEWAY_DATABASE_URL=postgresql://...`` selects
PostgreSQL (``bot.store.postgres``). This module imports neither engine: :func:`make_store`
imports the one it builds, and the engines import only the modules below them
(``bot.store.queries``, ``bot.store.tx``, ``bot.store.wakeups``, ``bot.store.repos``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from bot.store.queries import Queries
from bot.store.tx import EngineTx

if TYPE_CHECKING:
    from bot.settings.config import Settings
    from bot.store.repos.unit import EngineUnit


class EngineStore(Protocol):
    """A storage engine: transactions with its queries, migrations, readiness, wake-ups."""

    sql: Queries
    shared: bool  # other processes write it too (replicas): wait_for_work hears their work

    def unit(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineUnit]:
        """A read-write unit of work (``bot.core.ports.Store``); ``urgent``: served before the
        ordinary ones waiting."""
        ...

    def snapshot(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineUnit]:
        """A read-only unit of work: one consistent view."""
        ...

    def write(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]:
        """A read-write transaction for the store's own adapters (``urgent`` as for
        :meth:`unit`); refused while this task holds another open."""
        ...

    def read(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]:
        """A consistent read-only snapshot for the store's own adapters."""
        ...

    @property
    def is_open(self) -> bool:
        """The store is usable."""
        ...

    async def open(self, *, migrate: bool = True, create: bool = True) -> None:
        """Connect and (``migrate``) bring the schema up to date."""
        ...

    async def close(self) -> None:
        """Release every connection (idempotent)."""
        ...

    async def migrate(self) -> list[int]:
        """Apply pending migrations; the versions applied."""
        ...

    async def writable(self) -> str | None:
        """None when the store can write, else why not (for readiness)."""
        ...

    async def fold_counts(self) -> None:
        """Tidy the /metrics counts kept as rows change before a scrape reads them (on
        PostgreSQL: fold the rows of ended sessions together); they read the same without it."""
        ...

    async def wait_for_work(self, seconds: float) -> tuple[str, ...] | None:
        """Wait until work may have been enqueued (by any process sharing the database) or
        ``seconds`` pass: the job kinds heard of (empty: any kind), None when not woken."""
        ...

    async def wait_for_consents(self, seconds: float) -> bool:
        """Wait until another process may have changed a channel's consent (PostgreSQL: its
        NOTIFY) or ``seconds`` pass; True when woken. Where no process can say so (SQLite),
        this is the interval of the caller's periodic check."""
        ...

    def work_enqueued(self, kind: str = "") -> None:
        """Work of ``kind`` (empty: of any kind) was enqueued: wakes :meth:`wait_for_work`."""
        ...

    def listener_problem(self) -> str | None:
        """None while this process hears the others' changes (PostgreSQL: its LISTEN
        connection is up; an engine only one process writes needs nothing), else why not."""
        ...


def make_store(settings: Settings, *, one_shot: bool = False) -> EngineStore:
    """The engine ``settings`` selects, not yet open; ``one_shot`` for a command that opens
    it, does one thing and closes it (PostgreSQL: one connection at first, no LISTEN)."""
    if settings.database_url is not None:
        from bot.store.postgres import PostgresStore

        return PostgresStore(
            settings.database_url.get_secret_value(),
            pool_size=settings.database_pool_size,
            one_shot=one_shot,
        )
    from bot.store.sqlite import SqliteStore

    return SqliteStore(settings.db_path)
