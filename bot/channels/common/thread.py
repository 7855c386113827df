"""A stream SDK's private thread and event loop, written once for both platforms.

Both SDKs block or keep state in their loop (Lark's ``start()`` never returns, DingTalk's makes
blocking ``requests`` calls), so each stream runs on a thread of its own with a fresh loop; the
gateway's loop is reached through :class:`~bot.channels.common.bridge.Bridge`. A platform's
runner says what runs on the loop (:meth:`LoopThread._serve`) and how it is told to stop
(:meth:`LoopThread._request_stop`); starting, joining and draining are here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from bot.logs import kv

log = logging.getLogger("bot.channels")


class LoopThread:
    """A daemon thread running its own event loop; :meth:`stop` asks it to end and joins it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Start the thread; returns once its loop runs (or after 10 s)."""
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end (:meth:`_request_stop`, on the loop) and join the thread."""
        loop, thread = self._loop, self._thread
        if thread is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(self._request_stop)
        thread.join(timeout)
        if thread.is_alive():
            log.error("stream thread did not stop", extra=kv(thread=self._name))
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._serve(loop)
        finally:
            self._ready.set()
            _drain(loop)
            self._ended()

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the stream on ``loop`` (this thread's); call ``self._ready.set()`` once it runs."""
        raise NotImplementedError

    def _request_stop(self) -> None:
        """Called on the thread's loop by :meth:`stop`."""
        raise NotImplementedError

    def _ended(self) -> None:
        """After the loop closed, still on the thread: release what the stream held."""


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    # Cancel what is left so no task outlives its loop, then close it.
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
