"""The SQLite store (stdlib ``sqlite3``, WAL): the embedded default.

Writes go through one connection and run as ``BEGIN IMMEDIATE`` so a second process on the same
file waits instead of failing mid-transaction; concurrent writes share one transaction and one
COMMIT, each in its own savepoint (group commit, see ``bot.store.sqlite.group_commit``). Reads use
their own connection inside a deferred transaction, which in WAL mode is a consistent snapshot
that never blocks a writer. ``synchronous=FULL``: an accepted request survives a power cut, not
just a crash, and a ``write()`` returns only once its COMMIT is on disk.

Statements run on the event loop itself (microseconds each); only what can block, a BEGIN that
waits for another process and the COMMIT's fsync, goes to the connection's thread.

Nothing joins a transaction implicitly: a ``write()`` or ``read()`` opened while this task holds
one open is refused (it would wait for its own turn behind itself). Code that must commit with
its caller's change takes the caller's unit of work (``bot.core.ports.UnitOfWork``); that is how
one signed API call is one transaction (``bot.http.once``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

from bot.errors import StoreError
from bot.files import create_private_file, private_dir
from bot.logs import kv
from bot.store.migrations import load
from bot.store.repos.unit import Units
from bot.store.sqlite.group_commit import Connection, GroupCommit, StoreStats
from bot.store.sqlite.queries import SQLITE
from bot.store.sqlite.queries import SQLITE_ENGINE as SQL  # this engine's own statements
from bot.store.sqlite.tx import SqliteTx
from bot.store.wakeups import InProcessWork

log = logging.getLogger("bot.store")
_T = TypeVar("_T")

MIGRATIONS = load(files("bot.store.sqlite").joinpath("migrations"))
LATEST = MIGRATIONS[-1][0]  # the highest version: the schema this gateway expects
WRITE_PROBE_SECONDS = 2.0  # readiness writes at most this often while the store is healthy


class SqliteStore(Units, InProcessWork):
    """Store implementation over one SQLite file (one gateway process writes it, so its
    ``wait_for_work`` is woken in process)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        super().__init__()
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._commits: GroupCommit | None = None
        self._read_lock = asyncio.Lock()
        self._writable_at: float | None = None
        self.stats = StoreStats()
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
        self._commits = GroupCommit(self._writer, self.stats, self._busy_timeout_ms)

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

    async def _connect(self) -> Connection:
        # mode=rw: never create the file here; _prepare decided whether it may exist.
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        pragmas = [
            SQL.pragma_busy_timeout.format(ms=int(self._busy_timeout_ms)),
            SQL.pragma_journal_wal,
            SQL.pragma_synchronous_full,
            SQL.pragma_foreign_keys,
        ]
        return await Connection.open(uri, pragmas, self.stats)

    async def close(self) -> None:
        """Close the connections (idempotent), after the transaction in progress commits."""
        if self._commits is not None:
            await self._commits.close()
        self._commits = None
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
        except (StoreError, sqlite3.Error) as exc:
            self._writable_at = None
            return f"cannot write: {exc}"
        self._writable_at = now
        return None

    async def fold_counts(self) -> None:
        """Nothing to fold: the triggers of migration 0013 keep the /metrics counts current."""

    async def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied."""
        writer = self._need(self._writer)
        # At start-up, before anything else runs: the whole upgrade is one call on the thread.
        applied = await writer.off_loop(lambda: _migrate(writer.raw))
        if applied:
            log.info("schema migrated", extra=kv(versions=applied))
        return applied

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[SqliteTx]:
        """A serialised read-write transaction part, committed with the parts around it;
        returns once it is durable. ``urgent``: it takes the turn before the ordinary parts
        queued and is committed without waiting for them (``bot.store.sqlite.group_commit``)."""
        with self._one_per_task():
            commits = self._need(self._commits)
            batch = await commits.join(urgent=urgent)
            tx = SqliteTx(self._need(self._writer).raw, SQLITE, writable=True)
            try:
                yield tx
            except BaseException:
                tx.open = False
                commits.leave(batch, failed=True)
                raise
            finally:
                tx.open = False
            commits.leave(batch, failed=False)
            await commits.committed(batch)

    @asynccontextmanager
    async def read(self, *, urgent: bool = False) -> AsyncIterator[SqliteTx]:
        """A consistent read-only snapshot. ``urgent`` changes nothing here: a read never
        queues behind writes (a WAL snapshot on its own connection, statements inline)."""
        raw = self._need(self._reader).raw
        with self._one_per_task():
            async with self._read_lock:
                try:
                    raw.execute(SQL.begin_read)
                except sqlite3.Error as exc:
                    raise StoreError(f"cannot start a transaction: {exc}") from exc
                try:
                    yield SqliteTx(raw, SQLITE, writable=False)
                finally:
                    # Nothing to keep: ending the snapshot lets the checkpointer move past it.
                    raw.rollback()

    def _need(self, value: _T | None) -> _T:
        if value is None:
            raise StoreError("the store is not open")
        return value


def _migrate(raw: sqlite3.Connection) -> list[int]:
    raw.execute(SQL.begin_write)
    try:
        raw.execute(SQL.create_schema_migrations)
        row = raw.execute(SQL.schema_version).fetchone()
        current = int(row[0]) if row else 0
        if current > LATEST:
            raise StoreError(f"database schema {current} is newer than this gateway ({LATEST})")
        applied = []
        for version, description, sql in MIGRATIONS:
            if version > current:
                _run_script(raw, sql)
                raw.execute(
                    SQL.record_migration, (version, description, datetime.now(UTC).isoformat())
                )
                applied.append(version)
    except BaseException:
        raw.rollback()
        raise
    raw.execute(SQL.commit)
    return applied


def _run_script(raw: sqlite3.Connection, sql: str) -> None:
    # executescript() would COMMIT our transaction first: run statement by statement instead,
    # each one ending where SQLite says it is complete (a trigger's body holds semicolons).
    statement = ""
    for part in sql.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n\t;"):
                raw.execute(statement)
            statement = ""
    if statement.strip(" \n\t;"):
        raw.execute(statement)
