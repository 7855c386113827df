"""The SQLite write path: one connection, statements on the event loop, group commit.

Statements run inline on the loop, not one thread hop each: inside ``BEGIN IMMEDIATE`` this
connection holds the write lock, so a statement never waits for another writer, and a point
query costs microseconds while a hop to a database thread costs tens of them. Only what can
block runs on the connection's own thread: a ``BEGIN IMMEDIATE`` that must wait for another
process's lock, and ``COMMIT`` (the fsync). One state change is so at most two round trips,
and concurrent ones share them.

Group commit: ``write()`` calls that arrive while a transaction is open join it, one after
the other, each inside its own ``SAVEPOINT`` (so one caller's refusal rolls back only its own
part); when nobody else is waiting (or the batch is full) one ``COMMIT`` makes them all durable
at once, and each caller's ``write()`` returns only after that COMMIT. Under no load a write is
alone in its transaction, as before; under load the fsyncs per write fall with the queue.

Urgent writes (``write(urgent=True)``: a click's decision, the claim of its forward) take the
turn before every ordinary write queued at that moment, and the transaction they join is
committed as soon as no other urgent write waits: ordinary parts queued behind it join the next
transaction. An urgent write so waits for at most the one part running when it came, and its
own COMMIT, however many card sends or reservations are queued; it still returns only after its
COMMIT, like any write.

The one rule this adds: a write's body must not wait for what another caller does after its
own ``write()`` returns (that caller waits for this body's end to be committed). Waiting for
slow I/O inside a write delays the parts before it as well as those after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from bot.errors import StoreError
from bot.store.sqlite.queries import SQLITE_ENGINE as SQL  # the SQLite engine's own statements

T = TypeVar("T")

MAX_BATCH = 128  # writes per shared transaction at most: the first one's wait stays bounded


@dataclass
class StoreStats:
    """What the store did since it opened (for benchmarks and tests, not for /metrics)."""

    round_trips: int = 0  # calls run on a connection's thread
    writes: int = 0  # write() calls that ran their own part (joined ones not counted)
    commits: int = 0  # write transactions committed (each one fsync with synchronous=FULL)
    waiting: int = 0  # write() calls queued for their turn just now
    largest_batch: int = 0  # most write() parts that one COMMIT made durable


class Connection:
    """One ``sqlite3`` connection: statements inline, blocking calls on its own thread."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor, stats: StoreStats):
        self.raw = raw
        self._executor = executor
        self._stats = stats

    @classmethod
    async def open(cls, uri: str, pragmas: list[str], stats: StoreStats) -> Connection:
        """Connect (on the connection's thread: opening a file may block) and set it up."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            raw = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            raw.row_factory = sqlite3.Row
            for pragma in pragmas:
                raw.execute(pragma)
            return raw

        try:
            raw = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(raw, executor, stats)

    def off_loop(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on this connection's thread: one round trip."""
        self._stats.round_trips += 1
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def close(self) -> None:
        """Close the connection on its thread, then the thread."""
        try:
            await self.off_loop(self.raw.close)
        finally:
            self._executor.shutdown(wait=False)


@dataclass
class Batch:
    """One shared write transaction: its participants so far and the COMMIT they all wait for."""

    done: asyncio.Future[None]
    size: int = 0
    broken: BaseException | None = None  # the transaction cannot be committed any more
    urgent: bool = False  # an urgent part is in it: commit once no other urgent part waits


class Turn:
    """A lock whose urgent waiters are served before the ordinary ones (each kind in order).

    ``asyncio.Lock`` serves strictly first come, first served; this one hands a release to the
    oldest urgent waiter if there is one. A waiter cancelled after it was handed the turn calls
    ``handed_back`` (default: :meth:`release`) while it still holds it, so the turn is never lost.
    """

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    @property
    def urgent_waiting(self) -> int:
        """Urgent waiters not yet handed the turn."""
        return _pending(self._urgent)

    @property
    def waiting(self) -> int:
        """Waiters of either kind not yet handed the turn."""
        return _pending(self._urgent) + _pending(self._ordinary)

    @property
    def anyone_urgent(self) -> bool:
        """Whether an urgent waiter has not been handed the turn yet."""
        # Not the count: under load the queue is a batch long, and the oldest waiter (the
        # first one looked at) is nearly always still waiting.
        return any(not f.done() for f in self._urgent)

    @property
    def anyone(self) -> bool:
        """Whether a waiter of either kind has not been handed the turn yet."""
        return self.anyone_urgent or any(not f.done() for f in self._ordinary)

    async def acquire(
        self, *, urgent: bool = False, handed_back: Callable[[], None] | None = None
    ) -> None:
        """Wait for the turn (urgent: ahead of every ordinary waiter)."""
        if not self._held and not self.anyone:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._ordinary).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed the turn just as it was cancelled: pass it on.
                (handed_back or self.release)()
            raise
        finally:
            with contextlib.suppress(ValueError):
                (self._urgent if urgent else self._ordinary).remove(waiter)

    def release(self) -> None:
        """Hand the turn to the next waiter, urgent ones first, or free it."""
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn stays held, now by that waiter
                    return
        self._held = False


class GroupCommit:
    """Serialises write() parts on one connection and commits them together (module docstring).

    ``busy_timeout_ms``: how long ``BEGIN IMMEDIATE`` waits for another process's write lock.
    """

    def __init__(self, conn: Connection, stats: StoreStats, busy_timeout_ms: int) -> None:
        self._conn = conn
        self._stats = stats
        self._busy_timeout_ms = busy_timeout_ms
        self._turn = Turn()  # held by the part running now, or by the COMMIT
        self._batch: Batch | None = None

    async def join(self, *, urgent: bool = False) -> Batch:
        """Wait for the turn (``urgent``: before the ordinary writes queued) and open a
        savepoint in the shared transaction (begun if needed)."""
        self._stats.waiting = self._turn.waiting + 1
        try:
            await self._turn.acquire(urgent=urgent, handed_back=self._handed_back)
        finally:
            self._stats.waiting = self._turn.waiting
        try:
            batch = await self._current_batch()
            batch.size += 1
            batch.urgent = batch.urgent or urgent
            self._stats.writes += 1
            self._conn.raw.execute(SQL.savepoint)
        except asyncio.CancelledError:
            raise  # _begin released the turn or handed it to its own clean-up
        except BaseException as exc:
            if self._conn.raw.in_transaction:  # earlier parts wait on it: they fail with it
                self._conn.raw.rollback()
            self._fail_open_batch(exc)
            self._turn.release()
            raise _store_error("cannot start a transaction", exc) from exc
        return batch

    def leave(self, batch: Batch, *, failed: bool) -> None:
        """End this part (kept, or rolled back to its savepoint) and pass the turn on."""
        try:
            if failed:
                self._conn.raw.execute(SQL.rollback_to_savepoint)
            self._conn.raw.execute(SQL.release_savepoint)
        except sqlite3.Error as exc:
            batch.broken = exc
        if not self._conn.raw.in_transaction:
            # SQLite rolled the whole transaction back by itself (disk full, I/O error).
            batch.broken = batch.broken or StoreError("the transaction was rolled back")
        self._pass_turn(batch)

    def _handed_back(self) -> None:
        # A waiter handed the turn was cancelled before it ran: the open transaction's parts
        # still need their COMMIT, unless someone else joins it first.
        batch = self._batch
        if batch is None or not self._conn.raw.in_transaction:
            self._turn.release()
            return
        self._pass_turn(batch)

    def _pass_turn(self, batch: Batch) -> None:
        # The turn goes to the next part if it joins this transaction; else COMMIT now.
        if batch.broken is None and batch.size < MAX_BATCH and self._next_joins(batch):
            self._turn.release()  # the next part joins this transaction
            return
        self._batch = None
        if batch.broken is not None:
            self._end(batch, batch.broken)
            return
        # Handed to the thread now, not from a task that waits for the loop's next turn: the
        # write lock is released even if the loop is busy, and no caller's cancellation can
        # stop the COMMIT half-way.
        committing = self._conn.off_loop(lambda: self._conn.raw.execute(SQL.commit))
        committing.add_done_callback(lambda done: self._end(batch, done.exception()))

    def _next_joins(self, batch: Batch) -> bool:
        # Whoever takes the turn next joins this transaction, unless an urgent part is in it
        # and the next one is ordinary: then the urgent parts' COMMIT goes first.
        if self._turn.anyone_urgent:
            return True
        return not batch.urgent and self._turn.anyone

    async def committed(self, batch: Batch) -> None:
        """Wait until the shared transaction is durable; StoreError when it failed."""
        await asyncio.shield(batch.done)

    async def close(self, seconds: float = 10.0) -> None:
        """Wait (bounded) for the transaction in progress to commit."""
        try:
            async with asyncio.timeout(seconds):  # not wait_for: it can swallow a cancel (3.11)
                await self._turn.acquire()
        except TimeoutError:
            return
        self._turn.release()

    async def _current_batch(self) -> Batch:
        batch = self._batch
        if batch is not None and self._conn.raw.in_transaction:
            return batch
        if batch is not None:  # lost under us (see leave): nothing left of it to commit
            self._fail_open_batch(StoreError("the transaction was rolled back"))
        await self._begin()
        batch = Batch(done=asyncio.get_running_loop().create_future())
        self._batch = batch
        return batch

    async def _begin(self) -> None:
        raw = self._conn.raw
        # Inline first: the lock is free nearly always. Only a wait for another process's lock
        # goes to the thread, so no busy timeout ever runs on the event loop.
        raw.execute(SQL.pragma_busy_timeout.format(ms=0))
        try:
            raw.execute(SQL.begin_write)
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # the primary code
                raise
        finally:
            raw.execute(SQL.pragma_busy_timeout.format(ms=int(self._busy_timeout_ms)))
        begun = self._conn.off_loop(lambda: raw.execute(SQL.begin_write))
        try:
            await asyncio.shield(begun)
        except asyncio.CancelledError:
            # The BEGIN goes on on the thread: keep the turn until it ends, then roll back.
            begun.add_done_callback(self._undo_begin)
            raise

    def _undo_begin(self, begun: asyncio.Future[sqlite3.Cursor]) -> None:
        if not begun.cancelled() and begun.exception() is None:
            self._conn.raw.rollback()
        self._turn.release()

    def _fail_open_batch(self, exc: BaseException) -> None:
        batch, self._batch = self._batch, None
        if batch is not None and not batch.done.done():
            batch.done.set_exception(_store_error("commit failed", exc))
            batch.done.exception()  # retrieved: a batch nobody waits for must not warn

    def _end(self, batch: Batch, error: BaseException | None) -> None:
        # The COMMIT is done (or was never possible): tell every part, then pass the turn on.
        try:
            if error is None:
                self._stats.commits += 1
                self._stats.largest_batch = max(self._stats.largest_batch, batch.size)
                batch.done.set_result(None)
                return
            if self._conn.raw.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the parts are told of the failure
                    self._conn.raw.rollback()
            batch.done.set_exception(_store_error("commit failed", error))
            batch.done.exception()  # retrieved: a batch nobody waits for must not warn
        finally:
            self._turn.release()


def _pending(waiters: deque[asyncio.Future[None]]) -> int:
    # The waiters not done: each handed one is taken off its queue at once, a cancelled one
    # when its acquire() ends. Counted in C (map), not a generator: the stats take it twice
    # a write, over a queue as long as the writers waiting.
    return len(waiters) - sum(map(asyncio.Future.done, waiters))


def _store_error(what: str, exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"{what}: {exc}")
