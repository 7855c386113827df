"""The long-connection side of the Lark sandbox: endpoint discovery and the frame socket.

Delivery follows the platform: each event goes to one connected client, picked at random
when the app holds several connections (cluster mode: the callback configuration guide on
open.larksuite.com, ``event-subscription-guide/callback-subscription/configure-callback-request-address``,
says that with several clients of one app each message reaches one of them at random; this is
how several gateway replicas share one app). The client answers with an ACK frame carrying the same ``message_id``, and an event
whose ACK does not arrive within ``ack_timeout`` is sent again - to whichever client is
connected by then, so a delivery survives a reconnect. Card callbacks
(``card.action.trigger``) are different: they go out once and are never sent again, and
an answer that arrives after 3 s counts as failed - the user's client shows an error and
the card stays as it was (callback overview and ``card.action.trigger`` reference on
open.larkoffice.com: the callback must be answered within 3 seconds). Everything here runs
on the sandbox loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.lark.frames import (
    CONTROL,
    DATA,
    client_config,
    data_frames,
    decode_ack,
    parse_frame,
    pong_frame,
)
from sandbox.lark.models import DeliveryInfo

SERVICE_ID = 7  # any integer: the SDK echoes it back in its pings
CALLBACK_EVENT = "card.action.trigger"
CALLBACK_DEADLINE = 3.0  # seconds the platform waits for a card callback's answer


class DeliveryError(Exception):
    """An event was not acknowledged in time (or the sandbox gave up redelivering it)."""


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    device_id: str


@dataclass
class Delivery:
    """One event on its way to the app, and what came back."""

    message_id: str
    event_type: str
    payload: bytes
    parts: int
    sent: int = 0  # how many times it went out (1 + redeliveries)
    frames: int = 0  # DATA frames written, parts of every send included
    devices: list[str] = field(default_factory=list)  # the connection of each send
    acks: int = 0  # ACK frames that reached the sandbox (duplicates included)
    acks_lost: int = 0  # ACK frames dropped while hold_acks was on
    acks_late: int = 0  # callback ACKs that came after the deadline (ignored)
    deadline: float | None = None  # loop time a callback's answer must arrive by
    ack: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    card_token: str = ""  # a callback's token for the delayed update ("" for other events)

    @property
    def callback(self) -> bool:
        """A card callback: sent once, answered within the deadline or failed."""
        return self.event_type == CALLBACK_EVENT

    def info(self) -> DeliveryInfo:
        """A frozen snapshot for tests and the support page."""
        return DeliveryInfo(
            message_id=self.message_id,
            event_type=self.event_type,
            sent=self.sent,
            frames=self.frames,
            devices=tuple(self.devices),
            acks=self.acks,
            acks_lost=self.acks_lost,
            acked=self.ack is not None,
            acks_late=self.acks_late,
        )


class WsHub:
    """Issues long-connection URLs, serves ``/ws`` and delivers events with redelivery."""

    def __init__(
        self,
        *,
        ping_interval: int,
        ack_timeout: float,
        max_sends: int = 5,
        rng: random.Random | None = None,
    ) -> None:
        self.ping_interval = ping_interval
        self.ack_timeout = ack_timeout
        self.max_sends = max_sends
        self.hold_acks = False
        self.closing = False
        self.connections_opened = 0
        self.pings = 0
        self.deliveries: dict[str, Delivery] = {}
        self._issued: set[str] = set()
        self._devices = itertools.count(1)
        self._conns: list[_Connection] = []
        self._rng = rng or random.Random()
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Told a callback's card token once the callback is answered or its 3 s are over:
        # only then may the delayed update use it.
        self.on_answered: Callable[[str], None] = lambda _token: None

    @property
    def connected(self) -> bool:
        """True while at least one client holds an open socket."""
        return bool(self._conns)

    def endpoint(self, base_ws_url: str) -> dict[str, Any]:
        """The ``data`` of a ``/callback/ws/endpoint`` answer: a fresh URL and ClientConfig."""
        device_id = f"dev{next(self._devices)}"
        self._issued.add(device_id)
        url = f"{base_ws_url}/ws?device_id={device_id}&service_id={SERVICE_ID}"
        return {"URL": url, "ClientConfig": client_config(self.ping_interval)}

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws``: accept a client that discovered its URL first, then pump frames."""
        device_id = request.query.get("device_id", "")
        if self.closing:
            # The SDK reads these handshake headers: 503 is a ServerException, retried.
            headers = {"handshake-status": "503", "handshake-msg": "shutting down"}
            return web.Response(status=503, headers=headers)
        if device_id not in self._issued:
            # 403 becomes a ClientException, which stops the SDK's reconnect loop.
            headers = {"handshake-status": "403", "handshake-msg": "unknown device_id"}
            return web.Response(status=403, headers=headers)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, device_id)
        self._conns.append(conn)
        self.connections_opened += 1
        self._connected.set()
        try:
            await self._pump(conn)
        finally:
            self._forget(conn)
        return ws

    def _forget(self, conn: _Connection) -> None:
        if conn in self._conns:
            self._conns.remove(conn)
        if not self._conns:
            self._connected.clear()

    async def _pump(self, conn: _Connection) -> None:
        async for msg in conn.ws:
            if msg.type != WSMsgType.BINARY:
                continue
            method, headers, payload = parse_frame(msg.data)
            if method == CONTROL and headers.get("type") == "ping":
                self.pings += 1
                with contextlib.suppress(ConnectionError):  # a ping racing our close
                    await conn.ws.send_bytes(pong_frame(SERVICE_ID, self.ping_interval))
            elif method == DATA:
                self._on_ack(headers.get("message_id", ""), payload)

    def _on_ack(self, message_id: str, payload: bytes) -> None:
        delivery = self.deliveries.get(message_id)
        if delivery is None:
            return
        if self.hold_acks:
            delivery.acks_lost += 1  # as if the ACK was lost on the way back
            return
        if delivery.deadline is not None and asyncio.get_running_loop().time() > delivery.deadline:
            delivery.acks_late += 1  # the user already saw the error: the answer is void
            return
        delivery.acks += 1
        if delivery.callback:
            self.on_answered(delivery.card_token)
        if delivery.ack is None:
            delivery.ack = decode_ack(payload)
            delivery.done.set()

    async def wait_connected(self, within: float) -> None:
        """Return once a client is connected; TimeoutError otherwise."""
        await asyncio.wait_for(self._connected.wait(), within)

    def deliver(self, event: dict[str, Any], *, parts: int = 1) -> Delivery:
        """Start delivering an event; redelivery runs in the background until ACKed."""
        payload = json.dumps(event, ensure_ascii=False).encode()
        delivery = Delivery(
            message_id=secrets.token_hex(16),
            event_type=str(event["header"]["event_type"]),
            payload=payload,
            parts=parts,
            card_token=str(event.get("event", {}).get("token") or ""),
        )
        self.deliveries[delivery.message_id] = delivery
        task = asyncio.get_running_loop().create_task(self._drive(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def _drive(self, delivery: Delivery) -> None:
        if delivery.callback:
            await self._call_back(delivery)
            return
        while delivery.ack is None and delivery.sent < self.max_sends:
            await self._connected.wait()
            await self._send(delivery)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivery.done.wait(), self.ack_timeout)
        delivery.done.set()  # acknowledged, or given up: wake whoever waits

    async def _call_back(self, delivery: Delivery) -> None:
        # Sent once, if a client is connected at all; answered by the deadline or failed.
        delivery.deadline = asyncio.get_running_loop().time() + CALLBACK_DEADLINE
        if self._conns:
            await self._send(delivery)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivery.done.wait(), CALLBACK_DEADLINE)
        self.on_answered(delivery.card_token)  # answered, or the 3 s are over
        delivery.done.set()

    async def _send(self, delivery: Delivery) -> None:
        conn = self._rng.choice(self._conns)  # one client per event, at random (cluster mode)
        delivery.sent += 1
        delivery.devices.append(conn.device_id)
        trace_id = secrets.token_hex(8)
        frames = data_frames(
            SERVICE_ID, delivery.message_id, trace_id, delivery.payload, delivery.parts
        )
        try:
            for frame in frames:
                await conn.ws.send_bytes(frame)
                delivery.frames += 1
        except ConnectionError:
            pass  # the socket died under us; the ACK timeout triggers a redelivery

    async def wait_ack(self, delivery: Delivery, within: float) -> dict[str, Any]:
        """The decoded ACK of a delivery; DeliveryError when none came in time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivery.done.wait(), within)
        if delivery.ack is None:
            raise DeliveryError(f"no ACK for {delivery.message_id} after {delivery.sent} sends")
        return delivery.ack

    async def drop(self) -> None:
        """Close every client socket from the server side, as a platform restart would."""
        for conn in list(self._conns):
            await conn.ws.close()
            self._forget(conn)

    async def close(self, _app: web.Application | None = None) -> None:
        """Refuse new connections, stop redelivery, close all sockets (``on_shutdown``)."""
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.drop()
