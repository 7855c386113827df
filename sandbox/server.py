"""Run a sandbox platform's aiohttp app on its own thread and event loop.

The platform SDKs make blocking HTTP calls from their own event loops (DingTalk's
``requests.post`` inside ``start()``, Lark's endpoint discovery), so a sandbox that
shared a loop with them would deadlock. Each sandbox therefore owns a thread; code on
any other loop reaches it through :meth:`ThreadedServer.call`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class ThreadedServer:
    """An aiohttp application served on 127.0.0.1 from a private thread and loop."""

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        return f"http://{self._host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The sandbox's own loop: schedule platform-side work here."""
        return self._loop

    def start(self) -> None:
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox", daemon=True)
        self._thread.start()
        self.submit(self._serve()).result(timeout=10)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._thread is None:
            return
        self.submit(self._shutdown()).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the sandbox loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the sandbox loop and await it from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        assert server is not None and isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
