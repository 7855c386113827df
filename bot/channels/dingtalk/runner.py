"""The ``dingtalk_stream`` client on its own thread and loop, with a reconnect loop we control.

0.24.3's ``start()`` makes blocking ``requests`` calls on its loop, reads its endpoint from a
class attribute (one per process), swallows the first ``cancel()`` and sleeps 10 s after an
abnormal close. :class:`GatewayStreamClient` keeps the SDK's frame parsing, routing and ACKs
(``route_message``) and replaces the connection loop: a per-app endpoint, exponential backoff
with jitter, and a stop that stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote_plus, urlsplit

import aiohttp
import dingtalk_stream
import websockets
from dingtalk_stream.version import VERSION_STRING

from bot.channels.common.bridge import ARRIVED
from bot.channels.common.thread import LoopThread
from bot.logs import kv

log = logging.getLogger("bot.channels.dingtalk")

OPEN_PATH = "/v1.0/gateway/connections/open"
BACKOFF_MIN = 0.2
BACKOFF_MAX = 30.0
STABLE_AFTER = 1.0  # a connection that lived this long resets the backoff
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DRAIN_SECONDS = 3.0  # on stop, frames in flight get this long to send their ACK


class StreamState:
    """Connection state shared between the SDK thread (writer) and the gateway (reader)."""

    def __init__(self) -> None:
        self.connected = False
        self.detail = "not started"
        self.connections = 0

    def up(self, connection_id: str) -> None:
        """A websocket is open."""
        self.connected, self.detail = True, "connected"
        self.connections += 1
        log.info("stream connected", extra=kv(connection=connection_id))

    def down(self, why: str) -> None:
        """The websocket is gone (reconnecting or stopped)."""
        self.connected, self.detail = False, why


class GatewayStreamClient(dingtalk_stream.DingTalkStreamClient):  # type: ignore[misc]
    """A stream client for one app at its own endpoint, with our reconnect loop."""

    def __init__(self, client_id: str, client_secret: str, base_url: str) -> None:
        credential = dingtalk_stream.Credential(client_id, client_secret)
        super().__init__(credential, logger=logging.getLogger("dingtalk_stream.client"))
        self.base_url = base_url.rstrip("/")
        self.state = StreamState()
        self._tasks: set[asyncio.Task[None]] = set()
        self._after_ack: dict[str, Callable[[bool], None]] = {}

    @property
    def frames_in_flight(self) -> int:
        """Frames being handled and not yet answered."""
        return len(self._tasks)

    def after_ack(self, message_id: str, callback: Callable[[bool], None]) -> None:
        """Call ``callback(written)`` once the ACK of ``message_id`` was sent, or could not be."""
        self._after_ack[message_id] = callback

    async def start(self) -> None:
        """Connect, serve frames, reconnect with backoff; runs until cancelled."""
        self.pre_start()
        delay = BACKOFF_MIN
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                while True:
                    began = time.monotonic()
                    try:
                        await self._serve_once(http)
                        why = "server closed the connection"
                    except (OSError, aiohttp.ClientError, websockets.WebSocketException) as exc:
                        why = f"{type(exc).__name__}: {exc}"
                    except TimeoutError:
                        why = "timed out"
                    self.state.down(f"reconnecting ({why})")
                    delay = BACKOFF_MIN if time.monotonic() - began > STABLE_AFTER else delay
                    log.warning("stream lost; reconnecting", extra=kv(why=why, delay=delay))
                    await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, BACKOFF_MAX)
        finally:
            self.state.down("stopped")
            await self._cancel_frames()

    async def _serve_once(self, http: aiohttp.ClientSession) -> None:
        endpoint, ticket = await self._open(http)
        uri = f"{endpoint}?ticket={quote_plus(ticket)}"
        host = urlsplit(uri).hostname or ""
        proxy: Any = None if host in LOOPBACK else True  # never send loopback through a proxy
        async with websockets.connect(uri, open_timeout=10, proxy=proxy) as ws:
            self.websocket = ws
            self.state.up(str(ws.id))
            try:
                async for raw in ws:
                    self._spawn(self._frame(json.loads(raw), time.monotonic()))
            finally:
                # Stopping or lost: frames in flight still answer on this socket if it is open,
                # since DingTalk does not push a CALLBACK frame again.
                await self._drain_frames()

    async def _open(self, http: aiohttp.ClientSession) -> tuple[str, str]:
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        topics += [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
            "localIp": "",
        }
        async with http.post(self.base_url + OPEN_PATH, json=body) as response:
            answer = await response.json(content_type=None)
            if response.status != 200 or not isinstance(answer, dict):
                code = answer.get("code") if isinstance(answer, dict) else None
                raise aiohttp.ClientError(f"open connection refused: {response.status} {code}")
        return str(answer["endpoint"]), str(answer["ticket"])

    async def _frame(self, message: dict[str, Any], arrived: float) -> None:
        # route_message parses, dispatches and sends the ACK; a disconnect closes the socket.
        ARRIVED.set(arrived)
        message_id = str((message.get("headers") or {}).get("messageId", ""))
        written = False
        try:
            tag = await self.route_message(message)
            written = True
            if tag == self.TAG_DISCONNECT:
                # The platform keeps the socket open for a grace period after "disconnect":
                # let the frames in flight answer on it before closing.
                await self._drain_frames()
                await self.websocket.close()
        except websockets.ConnectionClosed:
            log.warning("connection closed before the ACK was sent", extra=kv(frame=message_id))
        except Exception:
            log.exception("stream frame handling failed", extra=kv(frame=message_id))
        finally:
            callback = self._after_ack.pop(message_id, None)
            if callback is not None:
                callback(written)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_frames(self) -> None:
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_SECONDS)

    async def _cancel_frames(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class FrameHandler(dingtalk_stream.CallbackHandler):  # type: ignore[misc]
    """One topic's frames (card callbacks, robot messages) → ``on_frame``; its answer is the ACK."""

    def __init__(self, on_frame: Callable[[Any], Coroutine[Any, Any, tuple[int, Any]]]) -> None:
        super().__init__()
        self._on_frame = on_frame

    async def process(self, message: dingtalk_stream.CallbackMessage) -> tuple[int, Any]:
        """The status and ``data.response`` of the frame's ACK."""
        return await self._on_frame(message)


class StreamRunner(LoopThread):
    """Runs a coroutine factory on a private thread and loop; :meth:`stop` cancels and joins it."""

    def __init__(self, main: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        super().__init__(name)
        self._main = main
        self._task: asyncio.Task[None] | None = None

    def _request_stop(self) -> None:
        # Cancel the client: it closes its socket and tasks on the way out.
        if self._task is not None:
            self._task.cancel()

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._main())
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(self._task)
