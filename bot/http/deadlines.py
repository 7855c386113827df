"""Read deadlines, so a slow client (slow-loris) is dropped instead of holding a connection.

aiohttp's server bounds an idle keep-alive connection but not a request that arrives a byte at a
time: its keep-alive timer is reset by nothing a client sends, yet a request head still arriving
is never timed. Two deadlines close that gap:

* the **head** (request line and headers) must be complete within ``header_timeout_seconds`` of
  its first byte (of the connection's start, for the first request, as Go's ReadHeaderTimeout);
  a late head is answered ``408`` and the connection closed. :class:`HeadDeadlineHandler` is
  aiohttp's own request handler with that one timer added.
* the **body** must be read within ``body_timeout_seconds`` of the head:
  :func:`body_deadline` reads it up front (aiohttp keeps it for the handler's ``read()``/
  ``json()``) and answers ``408`` otherwise.

Every connection is served by the event loop, so a slow one costs a socket and a timer, never a
worker: others are served meanwhile.

A client that hangs up before its answer (closes or resets mid-body, or while it is being
answered) is its own business, not a server error: the connection logs it once at INFO, and
:func:`body_deadline` gives aiohttp an answer it drops quietly on the closed connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Middleware

from bot.http.errors import JsonErrorsHandler, error_response
from bot.logs import kv

log = logging.getLogger("bot.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEAD_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
# After an answer to an unfinished request, how long aiohttp keeps reading (and dropping) the
# rest so the client sees the answer before the close; its default of 10 s would let a body
# dribbled a byte at a time hold the connection that much longer.
LINGER_SECONDS = 2.0


class HeadDeadlineHandler(JsonErrorsHandler):
    """aiohttp's request handler plus a deadline on each request head."""

    def __init__(self, manager: web.Server, *, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._last_body: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        request = self._current_request
        if request is not None:
            # The client left while its request was read or handled: told once, here, whatever
            # the handler was doing (``body_deadline`` then drops the answer quietly).
            log.info(
                "client hung up before its answer",
                extra=kv(method=request.method, path=request.path),
            )
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Bytes after the last request's body are the next head: its deadline starts now.
        if data and self._head_timer is None and self._between_requests():
            self._arm()
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads:  # aiohttp parsed a complete head
            self._disarm()
            self._last_body = self._messages[-1][1] if self._messages else None

    def _between_requests(self) -> bool:
        return self._last_body is None or self._last_body.is_eof()

    def _arm(self) -> None:
        self._head_timer = asyncio.get_running_loop().call_later(
            self._head_timeout, self._head_late
        )

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        log.debug("request head too slow; connection closed", extra=kv(after=self._head_timeout))
        transport.write(_HEAD_TIMEOUT)
        self.force_close()


class DeadlineSite(web.SockSite):
    """A site on a bound socket whose connections get :class:`HeadDeadlineHandler`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        head_timeout: float,
        keepalive_timeout: float,
    ) -> None:
        super().__init__(runner, sock)
        self._handler_args = {"head_timeout": head_timeout, "keepalive_timeout": keepalive_timeout}

    async def start(self) -> None:
        """Register with the runner and accept connections on the socket."""
        # As SockSite.start, with our handler class as the protocol factory.
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None, "the runner is set up before its sites start"
        args = self._handler_args

        def connection() -> HeadDeadlineHandler:
            return HeadDeadlineHandler(
                server, loop=loop, access_log=None, lingering_time=LINGER_SECONDS, **args
            )

        self._server = await loop.create_server(connection, sock=self._sock, backlog=self._backlog)


def body_deadline(seconds: float) -> Middleware:
    """Middleware: the whole body within ``seconds`` of the head, else ``408`` and close; a
    client hang-up at any point is answered ``499`` (never delivered), not raised."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.body_exists and not await _body_in_time(request, seconds):
                return _closing(
                    408, "request_timeout", f"the body did not arrive within {seconds:g} s"
                )
            return await handler(request)
        except ConnectionResetError:
            if not _hung_up(request):
                raise  # another connection of ours failed (a platform, the database): an error
            # Logged by the connection (HeadDeadlineHandler.connection_lost); never delivered.
            return _closing(499, "client_closed_request", "the client closed the connection")

    return middleware


async def _body_in_time(request: web.Request, seconds: float) -> bool:
    if request.content.is_eof():
        # The whole body came with the head (a small JSON body nearly always does): reading it
        # cannot wait, so no timer is set (and cancelled) for it.
        await request.read()
        return True
    try:
        async with asyncio.timeout(seconds):
            await request.read()  # kept by aiohttp for the handler
    except TimeoutError:
        return False
    return True


def _hung_up(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _closing(status: int, code: str, message: str) -> web.Response:
    response = error_response(status, code, message)
    response.force_close()
    return response
