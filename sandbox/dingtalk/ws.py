"""The stream gateway side of the sandbox: tickets, ``/connect`` and frame delivery.

Each frame goes to one open connection of the app, picked at random: an app may hold several
stream connections (several processes, or several clients in one), and the platform pushes
each message through one of them chosen by a random policy (open-dingtalk developerpedia
``docs/learn/stream/protocol.md``, FAQ "响应消息处理是否支持负载均衡方式处理"). A connection that was
sent ``disconnect`` gets nothing more. Which frames come again follows the platform (the same
file and its FAQ on ACKs):

- an EVENT frame is pushed again when its ACK has not arrived within ``ack_timeout`` or
  when the connection it went out on closes first (the push then waits for the client to
  reconnect);
- a CALLBACK frame (a card click, a robot message) goes out once and is never pushed
  again; its answer counts only if the ACK arrives within ``callback_deadline`` (3 s, the
  time the platform gives a callback), otherwise the callback failed: the user sees the
  platform's error and the card is not touched;
- SYSTEM frames (ping, disconnect) go out once.

ACKs are matched by ``messageId`` on any connection: after a reconnect the SDK sends
ACKs for old frames on its new socket.

Runs entirely on the sandbox loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from sandbox.dingtalk.models import AckFrame, SandboxError

log = logging.getLogger(__name__)

TICKET_TTL = 90.0
CALLBACK_DEADLINE = 3.0  # seconds the platform waits for a callback's answer
Subscription = tuple[str, str]  # (type, topic)


@dataclass
class _Connection:
    id: str
    ws: web.WebSocketResponse
    subscriptions: frozenset[Subscription]
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False  # told "disconnect": the platform pushes nothing more on it

    def accepts(self, frame_type: str, topic: str) -> bool:
        if frame_type == "SYSTEM":
            return True
        wanted = (frame_type, "*" if frame_type == "EVENT" else topic)
        return wanted in self.subscriptions


@dataclass
class _Pending:
    frame: dict[str, Any]
    ack: asyncio.Future[AckFrame]
    connection_ids: list[str] = field(default_factory=list)

    @property
    def redeliver(self) -> bool:
        return bool(self.frame["type"] == "EVENT")  # the only frames the platform pushes again


@dataclass(frozen=True)
class Pushed:
    """A pushed frame, where it went, and its ACK (None: a CALLBACK not answered in time)."""

    ack: AckFrame | None
    connection_ids: tuple[str, ...]


class StreamHub:
    """Tickets, live connections and at-least-once frame delivery for one app."""

    def __init__(
        self,
        *,
        app_id: str,
        ack_timeout: float,
        disconnect_grace: float,
        callback_deadline: float = CALLBACK_DEADLINE,
        rng: random.Random | None = None,
    ) -> None:
        self.app_id = app_id
        self._rng = rng or random.Random()
        self.ack_timeout = ack_timeout
        self.callback_deadline = callback_deadline
        self.disconnect_grace = disconnect_grace
        self.connections_opened = 0
        self.acks_dropped = 0
        self.callbacks_failed = 0  # CALLBACK frames whose ACK came too late or never
        self.hold_acks = False
        self._tickets: dict[str, tuple[frozenset[Subscription], float]] = {}
        self._connections: dict[str, _Connection] = {}
        self._pending: dict[str, _Pending] = {}
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        """Whether a client connection is open."""
        return any(not c.ws.closed for c in self._connections.values())

    def issue_ticket(self, subscriptions: Iterable[Subscription]) -> str:
        """A single-use ticket for ``/connect``, valid for 90 s."""
        now = time.monotonic()
        self._tickets = {t: v for t, v in self._tickets.items() if v[1] > now}
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = (frozenset(subscriptions), now + TICKET_TTL)
        return ticket

    async def handle_connect(self, request: web.Request) -> web.StreamResponse:
        """``GET /connect?ticket=``: upgrade and serve one client connection."""
        subscriptions, expires = self._tickets.pop(request.query.get("ticket", ""), (None, 0.0))
        if subscriptions is None or time.monotonic() > expires:
            body = {"code": "InvalidTicket", "message": "ticket unknown, used or expired"}
            return web.json_response(body, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = _Connection(uuid.uuid4().hex, ws, subscriptions)
        await self._opened(connection)
        try:
            await self._read_acks(ws)
        finally:
            await self._closed(connection)
        return ws

    async def wait_for(self, predicate: Callable[[], bool], limit: float | None) -> None:
        """Wait until ``predicate()`` holds, for at most ``limit`` seconds."""
        async with asyncio.timeout(limit), self._changed:
            await self._changed.wait_for(predicate)

    async def push(
        self,
        frame_type: str,
        topic: str,
        payload: Any,
        *,
        limit: float,
        headers: dict[str, str] | None = None,
    ) -> Pushed:
        """Push a frame and wait for its ACK.

        EVENT and SYSTEM frames: ``TimeoutError`` when no ACK came within ``limit`` s.
        CALLBACK frames: an ACK later than ``callback_deadline`` does not count (``ack`` None).
        """
        frame = self._frame(frame_type, topic, payload)
        frame["headers"].update(headers or {})
        pending = _Pending(frame, asyncio.get_running_loop().create_future())
        message_id = frame["headers"]["messageId"]
        self._pending[message_id] = pending
        try:
            if frame_type == "CALLBACK":
                return await self._call_back(pending)
            async with asyncio.timeout(limit):
                ack = await self._deliver_until_acked(pending)
        finally:
            del self._pending[message_id]
        return Pushed(ack, tuple(pending.connection_ids))

    async def _call_back(self, pending: _Pending) -> Pushed:
        try:
            async with asyncio.timeout(self.callback_deadline):
                ack: AckFrame | None = await self._deliver_until_acked(pending)
        except TimeoutError:
            ack = None
            self.callbacks_failed += 1
        return Pushed(ack, tuple(pending.connection_ids))

    async def disconnect(self) -> None:
        """SYSTEM ``disconnect`` on the newest connection, then close it after the grace."""
        connection = self._newest()
        connection.draining = True
        await connection.ws.send_str(
            json.dumps(self._frame("SYSTEM", "disconnect", {"reason": "connection is expired"}))
        )
        task = asyncio.create_task(self._close_later(connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def kill(self, code: int = WSCloseCode.INTERNAL_ERROR) -> None:
        """Close the newest connection abnormally (1011 unless told otherwise)."""
        await self._newest().ws.close(code=code, message=b"sandbox kill")

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self._connections.values()):
            await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"sandbox stopping")

    def _frame(self, frame_type: str, topic: str, payload: Any) -> dict[str, Any]:
        headers = {
            "appId": self.app_id,
            "contentType": "application/json",
            "messageId": f"sandbox_{uuid.uuid4().hex}",
            "time": str(int(time.time() * 1000)),
            "topic": topic,
        }
        data = json.dumps(payload, ensure_ascii=False)
        return {"specVersion": "1.0", "type": frame_type, "headers": headers, "data": data}

    def _newest(self) -> _Connection:
        live = [c for c in self._connections.values() if not c.ws.closed]
        if not live:
            raise SandboxError("no client is connected")
        return live[-1]

    def _live(self) -> list[_Connection]:
        return [c for c in self._connections.values() if not c.ws.closed and not c.draining]

    def _pick(self, frame_type: str, topic: str) -> _Connection:
        """One connection subscribed to the frame, at random (the platform's policy)."""
        live = self._live()
        subscribed = [c for c in live if c.accepts(frame_type, topic)]
        if live and not subscribed:
            raise SandboxError(f"the client did not subscribe to {frame_type} {topic}")
        return self._rng.choice(subscribed)

    async def _opened(self, connection: _Connection) -> None:
        self._connections[connection.id] = connection
        self.connections_opened += 1
        async with self._changed:
            self._changed.notify_all()

    async def _closed(self, connection: _Connection) -> None:
        connection.closed.set()
        self._connections.pop(connection.id, None)
        async with self._changed:
            self._changed.notify_all()

    async def _read_acks(self, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                self._on_ack(message.data)

    def _on_ack(self, raw: str) -> None:
        try:
            body = json.loads(raw)
            ack = AckFrame(
                code=int(body["code"]),
                message=str(body.get("message", "")),
                data=str(body.get("data", "")),
                message_id=str(body["headers"]["messageId"]),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("sandbox: unreadable frame from client: %.200s", raw)
            return
        pending = self._pending.get(ack.message_id)
        if pending is None or pending.ack.done():
            return  # late or duplicate ACK: the real gateway ignores these too
        if self.hold_acks:
            self.acks_dropped += 1
            return
        pending.ack.set_result(ack)

    async def _deliver_until_acked(self, pending: _Pending) -> AckFrame:
        while True:
            await self.wait_for(lambda: bool(self._live()), limit=None)
            frame_type, topic = pending.frame["type"], pending.frame["headers"]["topic"]
            connection = self._pick(frame_type, topic)
            await self._send(connection, pending)
            if await self._acked_on(connection, pending):
                return pending.ack.result()

    async def _send(self, connection: _Connection, pending: _Pending) -> None:
        pending.frame["headers"]["connectionId"] = connection.id
        pending.connection_ids.append(connection.id)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await connection.ws.send_str(json.dumps(pending.frame, ensure_ascii=False))

    async def _acked_on(self, connection: _Connection, pending: _Pending) -> bool:
        """Wait for the ACK; False when the frame should be pushed again."""
        if not pending.redeliver:
            await pending.ack
            return True
        closed = asyncio.ensure_future(connection.closed.wait())
        either: set[asyncio.Future[Any]] = {pending.ack, closed}
        try:
            await asyncio.wait(either, timeout=self.ack_timeout, return_when="FIRST_COMPLETED")
        finally:
            closed.cancel()
        return pending.ack.done()

    async def _close_later(self, connection: _Connection) -> None:
        # The real gateway force-closes a socket the client keeps open after "disconnect".
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.closed.wait(), self.disconnect_grace)
            return
        await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"disconnect grace over")
