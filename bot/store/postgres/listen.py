"""The LISTEN connection of a PostgreSQL store, kept open for as long as the store is.

PostgreSQL hands a NOTIFY only to the sessions listening when it commits: one sent while this
replica's LISTEN connection was down (a server restart, ``pg_terminate_backend``, a network cut)
is lost to it. So the connection is watched (asyncpg's termination listener, and a ping now and
then for a peer that vanished without closing), reopened with backoff whenever it drops, and
once listening again the store is told to re-read everything a missed NOTIFY could have said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from bot.logs import kv
from bot.store.postgres.errors import DRIVER_ERRORS
from bot.store.postgres.queries import ENGINE

log = logging.getLogger("bot.store")

Handler = Callable[[str], None]  # a NOTIFY's payload
CONNECT_SECONDS = 10.0  # a connection attempt that takes longer is given up and tried again
PING_EVERY_SECONDS = 15.0  # how often a quiet connection is checked for a silently lost peer
PING_SECONDS = 5.0


class Backoff:
    """Delays between reconnection attempts: doubling from ``first`` up to ``cap``, with a
    little jitter so replicas cut together do not all come back in the same instant."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self._next = first

    def next(self) -> float:
        """The delay before the next attempt."""
        delay, self._next = self._next, min(self._cap, self._next * 2)
        return delay * random.uniform(0.8, 1.0)  # jitter, not a secret

    def reset(self) -> None:
        """Start again from ``first`` (after a success)."""
        self._next = self._first


class Listener:
    """One LISTEN connection on ``channels``, reopened with backoff whenever it drops;
    ``relistened`` is called each time it listens again after a loss."""

    def __init__(
        self,
        url: str,
        channels: Mapping[str, Handler],
        relistened: Callable[[], None],
        backoff: Backoff | None = None,
    ) -> None:
        self._url = url
        self._channels = channels
        self._relistened = relistened
        self._backoff = backoff or Backoff()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.schema = ""  # the connection's current_schema(): the work NOTIFYs it answers
        self.problem: str | None = "not started"  # None while listening, else why not

    async def open(self) -> None:
        """Connect and listen (the driver's error when that fails), then keep it so."""
        await self._connect()
        self._task = asyncio.create_task(self._keep(), name="postgres-listen")
        self._task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        # Not cancelled by close(): a fault of its own ended the watch, so nothing reopens the
        # connection any more; /readyz must say so rather than trust a connection unwatched.
        if not task.cancelled() and task.exception() is not None:
            self.problem = f"the LISTEN connection is no longer watched: {task.exception()}"
            log.error("LISTEN watch ended", exc_info=task.exception())

    async def close(self) -> None:
        """Stop listening and close the connection (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=PING_SECONDS)
            except DRIVER_ERRORS:
                conn.terminate()
        self.problem = "closed"

    async def _connect(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._url, timeout=CONNECT_SECONDS)
        try:
            self.schema = str(await conn.fetchval(ENGINE.listen_schema))
            for channel, handler in self._channels.items():
                await conn.add_listener(channel, _callback(handler))
        except BaseException:
            conn.terminate()
            raise
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._conn = conn
        self.problem = None

    async def _keep(self) -> None:
        while True:
            await self._until_lost()
            self.problem = "the LISTEN connection was lost; reconnecting"
            log.warning("LISTEN connection lost; reconnecting")
            await self._reconnect()
            log.info("listening again; re-reading what a missed NOTIFY may have said")
            self._relistened()

    async def _until_lost(self) -> None:
        conn = self._conn
        while conn is not None and not conn.is_closed():
            try:
                async with asyncio.timeout(PING_EVERY_SECONDS):
                    await self._lost.wait()
            except TimeoutError:
                await _ping(conn)

    async def _reconnect(self) -> None:
        self._backoff.reset()
        while True:
            try:
                await self._connect()
                return
            except DRIVER_ERRORS as exc:
                delay = self._backoff.next()
                self.problem = f"the LISTEN connection was lost; reconnecting: {exc}"
                log.warning("LISTEN not reopened", extra=kv(error=str(exc), retry_in=delay))
                await asyncio.sleep(delay)


async def _ping(conn: asyncpg.Connection) -> None:
    # A peer gone without closing (a cut network) shows only when something is sent.
    try:
        await conn.fetchval(ENGINE.listen_ping, timeout=PING_SECONDS)
    except DRIVER_ERRORS:
        conn.terminate()  # calls the termination listener: the connection is reopened


def _callback(handler: Handler) -> Callable[[Any, int, str, str], None]:
    def notified(conn: Any, pid: int, channel: str, payload: str) -> None:
        handler(payload)

    return notified
