"""The PostgreSQL store: a pool of asyncpg connections shared by the tasks of one replica.

Writes run at READ COMMITTED, PostgreSQL's default; what must happen once is guarded by the
schema, not by timing: a decision closes its request with ``UPDATE ... WHERE status = 'pending'``
(a second replica's transaction waits for the row, then finds it closed) and
``decisions.request_id`` is unique; outbox claims lock their rows with ``FOR UPDATE SKIP
LOCKED`` under the lease. Reads are REPEATABLE READ, READ ONLY: one snapshot, as on SQLite.

As on SQLite, nothing joins a transaction implicitly: one opened while this task holds another
open is refused, and code that must commit with its caller's change takes the caller's unit of
work (``bot.core.ports.UnitOfWork``).

Pool size (``APPROVAL_GATEWAY_DATABASE_POOL_SIZE``, default 10): one connection per transaction
in flight. A replica needs about ``outbox`` lane concurrency (forwards + updates + sends, 24 by
default, though jobs hold a connection only while they read or write) plus concurrent API calls
and clicks; beyond the pool, transactions queue for a connection. Every replica also holds one
extra connection for LISTEN. Keep replicas × (pool + 1) under the server's ``max_connections``.
The LISTEN connection is reopened with backoff whenever it drops (``postgres/listen.py``); once
listening again every work lane is woken and the consents re-read, since a NOTIFY sent meanwhile
was lost to this replica. ``/readyz`` says not ready while it is down.

Every driver error is translated here (``postgres/errors.py``): the database out of reach (a lost
or refused connection) is ``StoreUnavailable``, answered 503 ``store_unavailable``; the pool
replaces a lost connection on its next use.

A fifth of the pool (at least one connection, see :func:`reserved_share`) is reserved for
urgent transactions (``write(urgent=True)``: a click's decision, the claim and read of its
forward): ordinary ones hold at most the rest at once, while urgent ones may take any free
connection. So a burst of intake, card sends and rate reservations (:meth:`statement` is
ordinary too) cannot make a click wait for a connection, and when nothing is urgent the ordinary work still has most of the pool. The
total stays ``DATABASE_POOL_SIZE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from bot.errors import StoreError, StoreUnavailable
from bot.logs import kv
from bot.store.migrations import load
from bot.store.postgres.errors import CONNECT_ERRORS, DRIVER_ERRORS, translated
from bot.store.postgres.listen import CONNECT_SECONDS, Listener
from bot.store.postgres.queries import ENGINE, POSTGRES
from bot.store.postgres.tx import PostgresTx, numbered
from bot.store.repos.unit import Units
from bot.store.wakeups import InProcessWork

log = logging.getLogger("bot.store")

WORK_CHANNEL = "approval_gateway_work"  # what enqueue and release NOTIFY (postgres/sql/outbox.sql)
CONSENTS_CHANNEL = "approval_gateway_consents"  # upsert_authorization's (postgres/sql/secrets.sql)
WRITE_PROBE_SECONDS = 2.0
# Every pooled connection runs without JIT: the gateway's statements are short OLTP lookups by
# key (a millisecond at most), and JIT compilation only pays for long analytical queries. It is
# chosen from the planner's cost estimate, which stale statistics inflate (after a bulk load the
# correlated subqueries of get_request are estimated at hundreds of times their cost); past
# jit_above_cost every call compiled its expressions again, about a second each on a loaded
# host, for a lookup that runs in a third of a millisecond. Overrides a ``jit`` URL parameter.
SESSION_SETTINGS = {"jit": "off"}


def reserved_share(pool_size: int) -> int:
    """Connections of ``pool_size`` kept for urgent transactions: a fifth, at least one, and
    never all of them (the smallest pool, 2, is one each)."""
    return min(max(1, pool_size // 5), pool_size - 1)


MIGRATIONS = load(files("bot.store.postgres").joinpath("migrations"))
LATEST = MIGRATIONS[-1][0]
FOLDS = (
    ENGINE.fold_request_counts,
    ENGINE.fold_delivery_counts,
    ENGINE.fold_outbox_counts,
    ENGINE.fold_usage_counts,
)


async def _keep_session(conn: asyncpg.Connection) -> None:
    # A connection goes back to the pool as it is: asyncpg still rolls back a transaction left
    # open, and the default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would cost a
    # round trip per transaction for state no pooled connection takes: locks are transaction
    # locks (sql/engine.sql), LISTEN has its own connection, and the one session state the
    # gateway makes, apply_writes' prepared statements and the settings that mark them
    # (migration 0020), is meant to stay with the connection for its next transaction.
    return None


class PostgresStore(Units, InProcessWork):
    """Store implementation over a PostgreSQL database (a ``postgresql://`` URL; other query
    parameters, such as ``search_path``, are server settings of every connection)."""

    shared = True  # replicas share the database: their NOTIFYs wake this one

    def __init__(self, url: str, *, pool_size: int = 10, one_shot: bool = False) -> None:
        super().__init__()
        self.sql = POSTGRES
        self._url = url
        self._pool_size = pool_size
        # A command that opens the store, does one thing and closes it (the CLI's): one
        # connection made at first instead of the reserved share, and no LISTEN connection,
        # as nothing it does waits for another process's NOTIFY. Each connection made is a
        # server process started and a handshake: about 5 ms apiece on loopback.
        self._one_shot = one_shot
        self._pool: asyncpg.Pool | None = None
        # Ordinary transactions pass this first, so the reserved share stays free for urgent
        # ones (module docstring); urgent ones go straight to the pool.
        self._ordinary = asyncio.Semaphore(pool_size - reserved_share(pool_size))
        self._listener = Listener(
            url,
            {WORK_CHANNEL: self._notified, CONSENTS_CHANNEL: self._consents_notified},
            self._relistened,
        )
        self._writable_at: float | None = None

    async def open(self, *, migrate: bool = True, create: bool = True) -> None:
        """Open the pool and the LISTEN connection; ``migrate``: bring the schema up to date.
        (``create`` is SQLite's: a PostgreSQL database is created by its administrator.)"""
        try:
            # At least the reserved share opened at once: a click must not wait for a
            # connection to be made.
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=1 if self._one_shot else reserved_share(self._pool_size) + 1,
                max_size=self._pool_size,
                reset=_keep_session,
                timeout=CONNECT_SECONDS,
                server_settings=SESSION_SETTINGS,
            )
            if migrate and await self._behind():
                await self.migrate()
            if not self._one_shot:
                await self._listener.open()
        except CONNECT_ERRORS as exc:
            await self.close()
            raise StoreError(f"cannot open the PostgreSQL database: {exc}") from exc

    def _notified(self, payload: str) -> None:
        schema, _, kind = payload.partition(" ")  # postgres/sql/outbox.sql says what it sends
        if schema == self._listener.schema:
            self.work_enqueued(kind)

    def _consents_notified(self, payload: str) -> None:
        self._consents.set()

    def _relistened(self) -> None:
        # Whatever a NOTIFY said while nobody listened is re-read: every lane claims once, and
        # the consents are read again.
        self.work_enqueued()
        self._consents.set()

    def listener_problem(self) -> str | None:
        """None while this replica hears the others' NOTIFYs, else why not."""
        return self._listener.problem

    async def close(self) -> None:
        """Close the LISTEN connection and the pool (idempotent)."""
        await self._listener.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def is_open(self) -> bool:
        """The pool is usable."""
        return self._pool is not None

    async def writable(self, max_age: float = WRITE_PROBE_SECONDS) -> str | None:
        """None when the store can write, else why not (a probe write, as on SQLite)."""
        now = asyncio.get_running_loop().time()
        if self._writable_at is not None and now - self._writable_at < max_age:
            return None
        try:
            async with self.write() as tx:
                await tx.execute(ENGINE.write_probe, (datetime.now(UTC).isoformat(),))
        except StoreError as exc:
            self._writable_at = None
            return f"cannot write: {exc.message}"
        self._writable_at = now
        return None

    async def fold_counts(self) -> None:
        """Fold the /metrics count rows of database sessions that have ended into one per count
        (at scrape time, migration 0004), so the rows stay as few as the counts times the
        sessions open. Skipped while another replica folds: the counts read the same unfolded,
        so a fold that fails is logged and the scrape goes on."""
        try:
            async with self.write() as tx:
                locked = await tx.fetch_one(ENGINE.fold_lock)
                if locked is None or not locked[0]:
                    return
                for fold in FOLDS:
                    await tx.execute(fold)
        except StoreError as exc:
            log.warning("metric counts not folded", extra=kv(error=exc.message))

    async def statement(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """Run one statement on its own, outside any transaction block, and return its first
        row: the rows it locks are held while it runs, not for a client's round trips.

        Ordinary work (a card send's rate reservation): it passes the ordinary share first,
        so a burst of sends reserving their budgets cannot take the connections kept for a
        click."""
        try:
            async with self._ordinary, self._need().acquire() as conn:
                row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
                return row
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"statement failed: {exc}") from exc

    async def _behind(self) -> bool:
        """Whether the schema may need a migration: one read, outside any transaction, so a
        start on an up-to-date schema skips the migrating transaction (its lock and its five
        round trips). A schema newer than this gateway is refused here too."""
        async with self._need().acquire() as conn:
            try:
                current = int(await conn.fetchval(ENGINE.schema_version))
            except asyncpg.UndefinedTableError:
                return True  # a new database: no bookkeeping table yet
        if current > LATEST:
            raise StoreError(f"database schema {current} is newer than this gateway ({LATEST})")
        return current < LATEST

    async def migrate(self) -> list[int]:
        """Apply pending migrations under the advisory lock; the versions applied."""
        async with self._need().acquire() as conn, conn.transaction():
            await conn.execute(ENGINE.migration_lock)
            await conn.execute(ENGINE.create_schema_migrations)
            current = int(await conn.fetchval(ENGINE.schema_version))
            if current > LATEST:
                raise StoreError(f"database schema {current} is newer than this gateway ({LATEST})")
            applied = []
            for version, description, sql in MIGRATIONS:
                if version > current:
                    await conn.execute(sql)
                    stamp = datetime.now(UTC).isoformat()
                    record = numbered(ENGINE.record_migration)[0]  # the shared text's ? numbered
                    await conn.execute(record, version, description, stamp)
                    applied.append(version)
        if applied:
            log.info("schema migrated", extra=kv(versions=applied, engine="postgresql"))
            await self._analyze()
        return applied

    async def _analyze(self) -> None:
        # Migrations create, rewrite and fill tables, and autovacuum's analyse comes only after
        # enough rows change, maybe long after: until then the planner guesses from no
        # statistics. ANALYZE samples a bounded number of rows, and takes no lock that blocks
        # reads or writes, so it runs at once, after the migrating transaction.
        async with self._need().acquire() as conn:
            await conn.execute(ENGINE.analyze_schema)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[PostgresTx]:
        """A read-write transaction; ``urgent``: it may take a connection of the reserved
        share."""
        with self._one_per_task():
            async with self._transaction(writable=True, urgent=urgent) as tx:
                try:
                    yield tx
                finally:
                    tx.open = False

    @asynccontextmanager
    async def read(self, *, urgent: bool = False) -> AsyncIterator[PostgresTx]:
        """A consistent read-only snapshot; ``urgent`` as for :meth:`write`."""
        with self._one_per_task():
            async with self._transaction(writable=False, urgent=urgent) as tx:
                try:
                    yield tx
                finally:
                    tx.open = False

    @asynccontextmanager
    async def _transaction(self, *, writable: bool, urgent: bool) -> AsyncIterator[PostgresTx]:
        if urgent:
            async with self._connected(writable) as tx:
                yield tx
            return
        async with self._ordinary, self._connected(writable) as tx:
            yield tx

    @asynccontextmanager
    async def _connected(self, writable: bool) -> AsyncIterator[PostgresTx]:
        pool = self._need()
        conn, transaction = await self._begin(pool, writable)
        try:
            async with _translating("transaction"):
                tx = PostgresTx(conn, self.sql, writable=writable)
                try:
                    yield tx
                    await tx.flush()  # the writes it deferred, before COMMIT
                except BaseException:
                    # On a lost connection the rollback fails too (the server already rolled
                    # back): the error that stopped the transaction is the one to tell.
                    with contextlib.suppress(*DRIVER_ERRORS):
                        await transaction.rollback()
                    raise
                async with _translating("commit failed"):
                    await transaction.commit()
        finally:
            await _release(pool, conn)

    async def _begin(
        self, pool: asyncpg.Pool, writable: bool
    ) -> tuple[asyncpg.Connection, Transaction]:
        # A pooled connection the server ended (a restart, pg_terminate_backend) may fail only
        # when used: nothing has run on it yet, so another is tried, until the pool has had to
        # make a new one (every idle connection may be dead alike).
        retries = self._pool_size
        while True:
            conn = await _acquire(pool)
            try:
                async with _translating("cannot start a transaction"):
                    transaction = conn.transaction(**({} if writable else _READ_ONLY))
                    await transaction.start()
                return conn, transaction
            except StoreUnavailable:
                await _release(pool, conn)
                if not retries:
                    raise
                retries -= 1
            except BaseException:
                await _release(pool, conn)
                raise

    def _need(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool


_READ_ONLY: dict[str, Any] = {"isolation": "repeatable_read", "readonly": True}


@asynccontextmanager
async def _translating(doing: str) -> AsyncIterator[None]:
    try:
        yield
    except DRIVER_ERRORS as exc:
        error = translated(exc, doing)
        if error is None:
            raise
        raise error from exc


async def _acquire(pool: asyncpg.Pool) -> asyncpg.Connection:
    try:
        return await pool.acquire()
    except CONNECT_ERRORS as exc:
        # Whatever stops a connection being made (refused, unreachable, the database not
        # taking connections) is the database out of reach for this call.
        raise StoreUnavailable(f"cannot reach the database: {exc}") from exc


async def _release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    # Handing back a connection lost under a query fails in its reset; the pool has already
    # terminated it and makes a new one on a later acquire, so nothing is left to do.
    try:
        await pool.release(conn)
    except DRIVER_ERRORS as exc:
        log.warning("lost connection dropped from the pool", extra=kv(error=str(exc)))
