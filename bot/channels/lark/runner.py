"""``lark_oapi.ws.Client`` on its own thread and loop, with a stop that stops.

The SDK (1.7.5) keeps its event loop in the module global ``lark_oapi.ws.client.loop``, captured
at import time, and ``start()`` blocks in that loop forever; there is no stop method. So the
runner gives the thread a fresh loop, points the module global at it before the client is built
(the client's lock and cache bind to the current loop), and stops by turning reconnect off,
closing the socket and stopping the loop from inside it. Reconnects, with the platform's own
jitter and interval (``ClientConfig``), stay the SDK's.

Only one runner may own the module global at a time: a process runs one Lark app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import lark_oapi.ws.client as wsc
from lark_oapi.ws.exception import ClientException

from bot.channels.common.thread import LoopThread
from bot.logs import kv

log = logging.getLogger("bot.channels.lark")

_OWNER = threading.Lock()  # the SDK's module-global loop admits one long connection per process
_IMPORT_LOOP = wsc.loop
_STOPPING = threading.Event()


class _QuietStop(logging.Filter):
    """Drops the SDK's error-level "receive message loop exit" caused by our own stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_STOPPING.is_set() and "receive message loop exit" in record.getMessage())


logging.getLogger("Lark").addFilter(_QuietStop())


class WsRunner(LoopThread):
    """Runs one ``lark.ws.Client`` on a private thread; :meth:`stop` joins it."""

    def __init__(self, build: Callable[[], Any], name: str) -> None:
        super().__init__(name)
        self._build = build
        self._client: Any = None
        self._stopping: asyncio.Task[None] | None = None
        self.failure: str | None = None
        self.reconnects = 0

    @property
    def frames_in_flight(self) -> int:
        """Events the client is handling and has not answered yet."""
        return int(getattr(self._client, "frames_in_flight", 0))

    @property
    def connected(self) -> bool:
        """Whether the client holds an open socket now."""
        return self._client is not None and self._client._conn is not None

    def start(self) -> None:
        """Start the thread; returns once the client is built on its loop."""
        if not _OWNER.acquire(timeout=10):
            raise RuntimeError("another Lark long connection runs in this process")
        super().start()

    def _request_stop(self) -> None:
        # Turn reconnect off, close the socket and stop the loop, from inside it.
        self._stopping = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        client = self._client
        _STOPPING.set()
        if client is not None:
            client._auto_reconnect = False
            client._ping_interval = 0  # the ping loop sleeps this long in a finally block
            with contextlib.suppress(Exception):
                await client._disconnect()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        asyncio.get_running_loop().stop()

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        wsc.loop = loop
        try:
            self._client = self._build()
            self._client.on_reconnecting = self._down
            self._ready.set()
            self._client.start()
        except ClientException as exc:
            # Refused credentials: the SDK does not retry these, and neither do we.
            self.failure = f"refused: {exc}"
            log.error("lark long connection refused", extra=kv(why=str(exc)))
        except RuntimeError:
            pass  # our _shutdown stopped the loop under start()'s run_until_complete
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("lark long connection ended")

    def _ended(self) -> None:
        _STOPPING.clear()
        wsc.loop = _IMPORT_LOOP
        _OWNER.release()

    def _down(self) -> None:
        self.reconnects += 1
        log.warning("lark long connection lost; the SDK reconnects")
