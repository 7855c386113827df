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


class WsRunner:
    """Runs one ``lark.ws.Client`` on a private thread; :meth:`stop` joins it."""

    def __init__(self, build: Callable[[], Any], name: str) -> None:
        self._build = build
        self._name = name
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
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
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Turn reconnect off, close the socket, stop the loop and join the thread."""
        loop, thread = self._loop, self._thread
        if thread is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        thread.join(timeout)
        if thread.is_alive():
            log.error("lark long connection thread did not stop", extra=kv(thread=self._name))
        self._thread = None

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

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
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
        finally:
            self._ready.set()
            self._drain(loop)
            _STOPPING.clear()
            wsc.loop = _IMPORT_LOOP
            _OWNER.release()

    def _down(self) -> None:
        self.reconnects += 1
        log.warning("lark long connection lost; the SDK reconnects")

    @staticmethod
    def _drain(loop: asyncio.AbstractEventLoop) -> None:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
