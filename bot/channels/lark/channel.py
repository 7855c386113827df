"""The Lark/Feishu channel: approval cards as direct messages, clicks over the long connection.

Cards (JSON 2.0, ``update_multi``) go out with ``im/v1/messages`` to the approver's bound identity
(``receive_id_type``), with a ``uuid`` derived from the delivery id so a retried send is not shown
twice; every redraw PATCHes that message (the calls: :mod:`bot.channels.lark.messages`). Clicks (``card.action.trigger``) and chat messages
(``im.message.receive_v1``) arrive on ``lark_oapi.ws.Client`` running on its own thread and loop
(:mod:`bot.channels.lark.runner`). The SDK's own handlers are synchronous and would block its
only loop, so the long connection awaits ours instead (:mod:`bot.channels.lark.ws`): each event
hops to the gateway's loop and each click waits, for what is left of its budget counted from the
frame's arrival (the platform allows 3 s), for the toast and the clicker's redrawn card that go
back in the ACK; clicks arriving together are handled side by side. A click that takes longer is
answered with a "processing" toast and the card follows through the delayed-update API
(``interactive/v1/card/update`` with the click's token, used once of its two uses) once the ACK
is out. In ``mode = "http"`` the same events arrive on ``POST /callbacks/lark``
(:mod:`bot.channels.lark.http`).

This class is the outbound side, the lifecycle and the wiring; what arrives, on either
transport, is taken from the transport to core's dispatch and back by :mod:`bot.channels.lark.inbound`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any, Literal

import lark_oapi as lark
from aiohttp import web

from bot.channels.base import ChannelDefaults
from bot.channels.common.bridge import Bridge
from bot.channels.lark.http import CallbackEndpoint, dispatcher
from bot.channels.lark.inbound import LarkInbound
from bot.channels.lark.messages import Messages
from bot.channels.lark.runner import WsRunner
from bot.channels.lark.ws import GatewayWsClient
from bot.channels.present import card_view
from bot.core.intake import Approver, UrgencyKind
from bot.core.limits import RateLimits
from bot.core.ports import (
    CallbackGuard,
    ChannelCapabilities,
    ChannelHealth,
    InboundSink,
    LookupKey,
    OutgoingCard,
    SendReceipt,
)
from bot.errors import ChannelError, ConfigError
from bot.logs import adopt_sdk_loggers, kv
from bot.settings.config import LarkSettings
from cards.lark import render_lark_content

log = logging.getLogger("bot.channels.lark")


def message_uuid(delivery_id: str) -> str:
    """The send's idempotency key: stable per delivery, within the platform's 50 characters."""
    return hashlib.sha256(delivery_id.encode()).hexdigest()[:32]


def _secret(value: Any) -> str:
    return str(value.get_secret_value()) if value is not None else ""


class LarkChannel(ChannelDefaults):
    """Channel port implementation for one Lark/Feishu app (long connection or HTTP callbacks)."""

    kind: Literal["chat", "email"] = "chat"
    # Urgency: in-app, and SMS and phone, which draw on the tenant's paid quota: the gateway
    # asks for those only where the admin accepted their cost (bot.core.nudges).
    capabilities = ChannelCapabilities(
        credential_check=True,
        lookups=frozenset({"email"}),
        urgency=frozenset({"app", "sms", "phone"}),
        person_picker=True,
    )
    settings: LarkSettings

    def __init__(self, settings: LarkSettings, name: str = "lark", *, limits: RateLimits) -> None:
        secret = _secret(settings.app_secret)
        if not settings.app_id or not secret:
            raise ConfigError(f"{name}: app_id and app_secret are both required")
        if settings.mode == "http" and not (settings.encrypt_key and settings.verification_token):
            raise ConfigError(f"{name}: HTTP mode needs encrypt_key and verification_token")
        self.name = name
        self.settings = settings
        self._app_id, self._secret = settings.app_id, secret
        self.api = Messages(settings, settings.app_id, secret, limits)
        self._inbound: LarkInbound | None = None
        self._bridge = Bridge(name, settings.ack_budget_seconds)
        self._runner: WsRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        """Take the sink and, in stream mode, open the long connection on its own thread."""
        self._bridge.open(sink)
        adopt_sdk_loggers()
        self._inbound = LarkInbound(
            self.name,
            self.settings.receive_id_type,
            self._bridge,
            reply=self._reply,
            delayed_update=self.api.delayed_update,
        )
        if self.settings.mode == "stream":
            self._runner = WsRunner(self._build_ws, f"lark-ws-{self.name}")
            await asyncio.to_thread(self._runner.start)
        log.info("channel started", extra=kv(channel=self.name, mode=self.settings.mode))

    async def stop(self) -> None:
        """Stop the long connection (thread joined), then stop taking events."""
        if self._runner is not None:
            await asyncio.to_thread(self._runner.stop)
            self._runner = None
        await self._bridge.drain()
        self._inbound = None
        await self.api.close()
        log.info("channel stopped", extra=kv(channel=self.name))

    async def check(self) -> None:
        """Prove the credentials work by fetching a tenant token (ChannelError if refused)."""
        self.api.token.forget()
        try:
            await self.api.token.get()
        finally:
            if self._inbound is None:  # a candidate checked before it runs: no session left open
                await self.api.close()

    def health(self) -> ChannelHealth:
        """Stream mode: is the long connection up. HTTP mode: is the channel started."""
        if self.settings.mode == "http":
            return ChannelHealth(connected=self._inbound is not None, detail="http callbacks")
        runner = self._runner
        if runner is None:
            return ChannelHealth(connected=False, detail="not started")
        if runner.connected:
            return ChannelHealth(connected=True, detail="connected")
        return ChannelHealth(connected=False, detail=runner.failure or "reconnecting")

    @property
    def frames_in_flight(self) -> int:
        """Long-connection events received and not answered yet."""
        return self._runner.frames_in_flight if self._runner is not None else 0

    def default_address(self, approver: Approver) -> str | None:
        """Lark identities come from bindings only."""
        return None

    def routes(self, guard: CallbackGuard) -> list[web.RouteDef]:
        """``POST /callbacks/<name>`` in HTTP mode (replays refused by ``guard``); else none."""
        if self.settings.mode != "http":
            return []
        endpoint = CallbackEndpoint(
            name=self.name,
            keys=(_secret(self.settings.encrypt_key), _secret(self.settings.verification_token)),
            budget=self.settings.ack_budget_seconds,
            guard=guard,
            inbound=lambda: self._inbound,
        )
        return [web.post(f"/callbacks/{self.name}", endpoint.handle)]

    # -- cards ---------------------------------------------------------------------------
    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Send the card as a direct message (idempotent by ``uuid``); returns its message_id."""
        address = card.delivery.address
        if not address:
            raise ChannelError("delivery has no Lark identity", retryable=False)
        id_type, uuid = self.settings.receive_id_type, message_uuid(card.delivery.id)
        message_id = await self.api.create(address, id_type, "interactive", _content(card), uuid)
        return SendReceipt(external_ref=message_id, detail="sent as a direct message")

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """PATCH the delivered card to the request's current state."""
        message_id = card.delivery.external_ref
        if not message_id:
            raise ChannelError("delivery has no Lark message id to update", retryable=False)
        await self.api.patch(message_id, _content(card), card.delivery.address)
        return SendReceipt(external_ref=message_id)

    async def tell(self, address: str, text: str) -> None:
        """A bot text message to one user."""
        await self.send_text(address, text)

    async def urge(self, address: str, external_ref: str, kind: UrgencyKind, text: str) -> None:
        """Lark urgency (加急) on the card already sent: ``urgent_app``, ``urgent_sms`` or
        ``urgent_phone`` (230024 when the tenant's paid quota is spent)."""
        if kind not in self.capabilities.urgency:
            await super().urge(address, external_ref, kind, text)
        await self.api.urgent(external_ref, kind, address, self.settings.receive_id_type)

    async def send_text(self, open_id: str, text: str) -> None:
        """A plain text message to ``open_id`` (the answer to a chat message)."""
        await self.api.create(
            open_id, "open_id", "text", json.dumps({"text": text}, ensure_ascii=False)
        )

    async def lookup(self, key: LookupKey, value: str) -> str | None:
        """By email: the tenant user's open_id (None: unknown or out of scope)."""
        if key != "email":
            return await super().lookup(key, value)
        return await self.api.open_id_by_email(value)

    # -- inbound: the transports hand events to LarkInbound ------------------------------------
    def _build_ws(self) -> Any:
        inbound = self._require_inbound()
        fallback = dispatcher()._do_without_validation  # what the SDK answers itself
        return GatewayWsClient(
            self._app_id,
            self._secret,
            log_level=lark.LogLevel.WARNING,
            event_handler=dispatcher(),
            domain=self.settings.domain.rstrip("/"),
            on_event=lambda payload: inbound.on_stream(payload, fallback),
        )

    def _require_inbound(self) -> LarkInbound:
        if self._inbound is None:
            raise ChannelError("the Lark channel is not started")
        return self._inbound

    async def _reply(self, open_id: str, text: str) -> None:
        try:
            await self.send_text(open_id, text)
        except ChannelError as exc:
            log.warning("chat reply failed", extra=kv(why=exc.message))


def _content(card: OutgoingCard) -> str:
    return render_lark_content(card_view(card.request, card.delivery, card.hand_over_to))
