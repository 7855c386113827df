"""The SQLite store (aiosqlite, WAL): the embedded default.

Writes go through one connection, serialised by a lock and run as ``BEGIN IMMEDIATE`` so a second
process on the same file waits instead of failing mid-transaction. Reads use their own connection
inside a deferred transaction, which in WAL mode is a consistent snapshot that never blocks a
writer. ``synchronous=FULL``: an accepted request survives a power cut, not just a crash.

A ``write()`` or ``read()`` opened while this task is already inside a ``write()`` joins that
transaction instead of opening another (which would wait for its own lock). Only an open one: a
task created inside a write copies the context, and must not write outside any transaction. That is how one
signed API call is one transaction: the idempotency memory, the change and the kept answer
commit together, or none of them does, whatever the code in between opens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.errors import StoreError
from bot.files import create_private_file, private_dir
from bot.logs import kv
from bot.store.engine import InProcessWork
from bot.store.migrations import LATEST, MIGRATIONS
from bot.store.queries import SQLITE
from bot.store.queries import SQLITE_ENGINE as SQL  # this engine's own statements
from bot.store.tx import SqliteTx

log = logging.getLogger("bot.store")

WRITE_PROBE_SECONDS = 2.0  # readiness writes at most this often while the store is healthy


class SqliteStore(InProcessWork):
    """Store implementation over one SQLite file (one gateway process writes it, so its
    ``wait_for_work`` is woken in process)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        super().__init__()
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._current: ContextVar[SqliteTx | None] = ContextVar(f"tx-{id(self)}", default=None)
        self._writable_at: float | None = None
        self.sql = SQLITE  # the repository queries of this engine

    async def open(self, *, migrate: bool = True, create: bool = True) -> None:
        """Open both connections and bring the schema up to date.

        ``create``: make the data directory and database if missing (0700 and 0600, see
        ``bot.files``); without it a missing database is a StoreError and nothing is created.
        """
        self._prepare(create)
        try:
            self._writer = await self._connect()
            if migrate:
                await self.migrate()
            self._reader = await self._connect()
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    def _prepare(self, create: bool) -> None:
        if create:
            private_dir(self.path.parent)
            # SQLite gives -wal and -shm the database file's mode: create that file 0600 first.
            create_private_file(self.path)
        elif not self.path.is_file():
            raise StoreError(
                f"no database at {self.path}: set APPROVAL_GATEWAY_DATA_DIR (or --config) to the "
                "gateway's data directory"
            )
        else:
            private_dir(self.path.parent)

    async def _connect(self) -> aiosqlite.Connection:
        # mode=rw: never create the file here; _prepare decided whether it may exist.
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in (
            SQL.pragma_busy_timeout.format(ms=int(self._busy_timeout_ms)),
            SQL.pragma_journal_wal,
            SQL.pragma_synchronous_full,
            SQL.pragma_foreign_keys,
        ):
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        """Close the connections (idempotent)."""
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def is_open(self) -> bool:
        """Both connections are usable."""
        return self._writer is not None and self._reader is not None

    async def writable(self, max_age: float = WRITE_PROBE_SECONDS) -> str | None:
        """None when the store can write, else why not (for readiness).

        Proven by a tiny write transaction on the probe row, at most every ``max_age`` seconds
        while it succeeds; a failing store is probed again on every call, so recovery shows at
        once. Disk full, a read-only filesystem or a lock held too long all fail it.
        """
        now = asyncio.get_running_loop().time()
        if self._writable_at is not None and now - self._writable_at < max_age:
            return None
        try:
            async with self.write() as tx:
                await tx.execute(SQL.write_probe, (datetime.now(UTC).isoformat(),))
        except (StoreError, aiosqlite.Error) as exc:
            self._writable_at = None
            return f"cannot write: {exc}"
        self._writable_at = now
        return None

    async def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied."""
        async with self._transaction(self._need(self._writer), SQL.begin_write) as conn:
            await conn.execute(SQL.create_schema_migrations)
            async with conn.execute(SQL.schema_version) as c:
                row = await c.fetchone()
            current = int(row[0]) if row else 0
            if current > LATEST:
                raise StoreError(f"database schema {current} is newer than this gateway ({LATEST})")
            applied = []
            for version, description, sql in MIGRATIONS:
                if version > current:
                    await _run_script(conn, sql)
                    await conn.execute(
                        SQL.record_migration,
                        (version, description, datetime.now(UTC).isoformat()),
                    )
                    applied.append(version)
        if applied:
            log.info("schema migrated", extra=kv(versions=applied))
        return applied

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SqliteTx]:
        """A serialised read-write transaction (or the one this task is already in)."""
        current = self._current.get()
        if current is not None and current.open:
            yield current
            return
        async with (
            self._write_lock,
            self._transaction(self._need(self._writer), SQL.begin_write) as conn,
        ):
            tx = SqliteTx(conn, SQLITE, writable=True)
            token = self._current.set(tx)
            try:
                yield tx
            finally:
                tx.open = False
                self._current.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        """A consistent read-only snapshot (inside a write: that write, with its changes)."""
        current = self._current.get()
        if current is not None and current.open:
            yield current
            return
        async with (
            self._read_lock,
            self._transaction(self._need(self._reader), SQL.begin_read) as conn,
        ):
            yield SqliteTx(conn, SQLITE, writable=False)

    @asynccontextmanager
    async def _transaction(
        self, conn: aiosqlite.Connection, begin: str
    ) -> AsyncIterator[aiosqlite.Connection]:
        try:
            await conn.execute(begin)
        except aiosqlite.Error as exc:
            raise StoreError(f"cannot start a transaction: {exc}") from exc
        except asyncio.CancelledError:
            # The BEGIN runs on the connection's thread whether or not we are still waiting:
            # roll back (queued behind it) or the connection stays inside a transaction forever.
            await conn.rollback()
            raise
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        try:
            await conn.commit()
        except aiosqlite.Error as exc:
            await conn.rollback()
            raise StoreError(f"commit failed: {exc}") from exc

    def _need(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise StoreError("the store is not open")
        return conn


async def _run_script(conn: aiosqlite.Connection, sql: str) -> None:
    # executescript() would COMMIT our transaction first; run statement by statement instead.
    for statement in (part.strip() for part in sql.split(";")):
        if statement:
            await conn.execute(statement)
