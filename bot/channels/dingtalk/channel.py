"""The DingTalk channel (one class, two instances: ``dingtalk`` and ``dingtalk_enterprise``).

Cards go out through the card platform's ``createAndDeliver`` as robot 1:1 cards whose buttons
call back over the stream (``callbackType: STREAM``); ``outTrackId`` is derived from the delivery
id, so a retried send lands on the same card. Every redraw is ``PUT /v1.0/card/instances`` merged
by key. Clicks arrive on the ``dingtalk_stream`` connection, which runs on its own thread and
loop (:mod:`bot.channels.dingtalk.runner`); each click hops to the gateway's loop, and the ACK
carries the clicker's redrawn card. Every card callback is ACKed within the budget, counted from
the frame's arrival: DingTalk pushes EVENT frames again but never a CALLBACK frame (open-dingtalk
developerpedia ``docs/learn/stream/protocol.md`` and its FAQ on ACKs), so a decision that is not
ready in time is answered "processing" and the card follows through the card API (an outbox job
the decision committed with). In ``mode = "http"`` the same clicks and messages arrive on
``POST /callbacks/<name>`` instead (:mod:`bot.channels.dingtalk.http`).

This class is the outbound side, the lifecycle and the wiring; what arrives, on either
transport, is taken from the transport to core's dispatch and back by :mod:`bot.channels.dingtalk.inbound`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

import dingtalk_stream
from aiohttp import web

from bot.channels.base import ChannelDefaults
from bot.channels.common.bridge import Bridge
from bot.channels.common.ratelimit import UPDATE_WITHIN
from bot.channels.dingtalk.api import OpenApi
from bot.channels.dingtalk.crypto import EventCrypto
from bot.channels.dingtalk.http import CallbackEndpoint
from bot.channels.dingtalk.inbound import (
    BY_KEY,
    Inbound,
    out_track_id,
)
from bot.channels.dingtalk.runner import FrameHandler, GatewayStreamClient, StreamRunner
from bot.channels.present import card_view
from bot.core.intake import Approver, UrgencyKind
from bot.core.limits import RateLimits
from bot.core.models import RequestStatus
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
from bot.settings.config import DingTalkSettings
from cards import render_dingtalk

log = logging.getLogger("bot.channels.dingtalk")

CREATE_AND_DELIVER = "/v1.0/card/instances/createAndDeliver"
UPDATE_CARD = "/v1.0/card/instances"
BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
DING_SEND = "/v1.0/robot/ding/send"  # DING: remindType 1 in-app, 2 SMS, 3 phone
REMIND_TYPE: dict[UrgencyKind, int] = {"app": 1, "sms": 2, "phone": 3}
CARD_TOPIC = dingtalk_stream.CallbackHandler.TOPIC_CARD_CALLBACK
CHAT_TOPIC = dingtalk_stream.ChatbotMessage.TOPIC
OK = dingtalk_stream.AckMessage.STATUS_OK


def _required(settings: DingTalkSettings, name: str) -> tuple[str, str, str]:
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    if not settings.client_id or not secret or not settings.robot_code:
        raise ConfigError(f"{name}: client_id, client_secret and robot_code are all required")
    return settings.client_id, secret, settings.robot_code


_NO_NOTICE = {"notice": "", "noticeKind": ""}


class DingTalkChannel(ChannelDefaults):
    """Channel port implementation for one DingTalk app (stream or HTTP callback mode)."""

    kind: Literal["chat", "email"] = "chat"
    # Urgency: the DING in-app, by SMS or by phone; the last two need a paid plan, so the gateway
    # asks for them only where the admin accepted their cost (bot.core.nudges).
    capabilities = ChannelCapabilities(
        china_only=True,
        credential_check=True,
        lookups=frozenset({"mobile"}),
        urgency=frozenset({"app", "sms", "phone"}),
    )
    settings: DingTalkSettings

    def __init__(self, name: str, settings: DingTalkSettings, *, limits: RateLimits) -> None:
        self.name = name
        self.settings = settings
        client_id, secret, self._robot_code = _required(settings, name)
        self._client_id, self._secret = client_id, secret
        self.api = OpenApi(
            settings.api_base,
            client_id,
            secret,
            qps=settings.qps,
            burst=settings.burst,
            per_second=settings.per_second,
            retry_after=settings.throttle_retry_seconds,
            limits=limits,
        )
        self._inbound: Inbound | None = None
        self._bridge = Bridge(name, settings.ack_budget_seconds)
        self._client: GatewayStreamClient | None = None
        self._runner: StreamRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        """Open the API session and, in stream mode, the stream on its own thread."""
        self._bridge.open(sink)
        adopt_sdk_loggers()
        await self.api.open()
        inbound = Inbound(
            self.name,
            self.settings.corp_id,
            self._bridge,
            reply=self._reply,
            update_card=self._update_card,
        )
        self._inbound = inbound
        if self.settings.mode == "stream":
            client = GatewayStreamClient(self._client_id, self._secret, self.settings.api_base)
            after_ack = client.after_ack
            client.register_callback_handler(
                CARD_TOPIC, FrameHandler(lambda m: inbound.on_stream(m, False, after_ack))
            )
            client.register_callback_handler(
                CHAT_TOPIC, FrameHandler(lambda m: inbound.on_stream(m, True, after_ack))
            )
            self._client = client
            self._runner = StreamRunner(client.start, f"dingtalk-stream-{self.name}")
            self._runner.start()
        log.info("channel started", extra=kv(channel=self.name, mode=self.settings.mode))

    async def stop(self) -> None:
        """Stop the stream thread (joined), then close the API session."""
        if self._runner is not None:
            await asyncio.to_thread(self._runner.stop)
            self._runner = None
        await self._bridge.drain()
        if self._inbound is not None:
            self._inbound.open = False
        self._inbound = None
        await self.api.close()
        log.info("channel stopped", extra=kv(channel=self.name))

    async def check(self) -> None:
        """Prove the credentials work by fetching an access token (ChannelError if refused)."""
        await self.api.check()

    def health(self) -> ChannelHealth:
        """Stream mode: is the websocket up. HTTP mode: is the channel started."""
        if self.settings.mode == "http":
            return ChannelHealth(connected=self._inbound is not None, detail="http callbacks")
        if self._client is None or self._runner is None:
            return ChannelHealth(connected=False, detail="not started")
        state = self._client.state
        return ChannelHealth(connected=state.connected, detail=state.detail)

    @property
    def frames_in_flight(self) -> int:
        """Stream frames received and not answered yet (0 in HTTP mode or when stopped)."""
        return self._client.frames_in_flight if self._client is not None else 0

    def default_address(self, approver: Approver) -> str | None:
        """DingTalk userIds come from bindings only."""
        return None

    def routes(self, guard: CallbackGuard) -> list[web.RouteDef]:
        """``POST /callbacks/<name>`` in HTTP mode (replays refused by ``guard``); else none."""
        if self.settings.mode != "http":
            return []
        endpoint = CallbackEndpoint(
            name=self.name,
            crypto=self._crypto(),
            app_secret=self._secret,
            guard=guard,
            inbound=lambda: self._inbound,
        )
        return [web.post(f"/callbacks/{self.name}", endpoint.handle)]

    # -- cards ---------------------------------------------------------------------------
    async def lookup(self, key: LookupKey, value: str) -> str | None:
        """By mobile number: the org member's userId (None: nobody in scope)."""
        if key != "mobile":
            return await super().lookup(key, value)
        return await self.lookup_mobile(value)

    async def lookup_mobile(self, mobile: str) -> str | None:
        """The userId of the org member with this mobile number (None: nobody in scope)."""
        await self.api.open()
        found = await self.api.oapi(
            self.settings.oapi_base, "/topapi/v2/user/getbymobile", {"mobile": mobile}
        )
        user_id = (found or {}).get("userid")
        return user_id if isinstance(user_id, str) and user_id else None

    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Create and deliver the card to the approver's robot chat (idempotent by outTrackId)."""
        address = card.delivery.address
        if not address:
            raise ChannelError("delivery has no DingTalk userId", retryable=False)
        track_id = out_track_id(card.delivery.id)
        body = {
            "cardTemplateId": self.settings.card_template_id,
            "outTrackId": track_id,
            "callbackType": "STREAM" if self.settings.mode == "stream" else "HTTP",
            "cardData": {"cardParamMap": self._params(card)},
            "openSpaceId": f"dtv1.card//IM_ROBOT.{address}",
            "imRobotOpenSpaceModel": {"supportForward": False},
            "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": self._robot_code},
            "userIdType": 1,
        }
        if self.settings.callback_route_key and self.settings.mode == "http":
            body["callbackRouteKey"] = self.settings.callback_route_key
        answer = await self.api.call("POST", CREATE_AND_DELIVER, body)
        _check_delivered(answer)
        return SendReceipt(external_ref=track_id, detail="delivered to robot chat")

    async def tell(self, address: str, text: str) -> None:
        """A robot text message to one user (``oToMessages/batchSend``, ``sampleText``)."""
        body = {
            "robotCode": self._robot_code,
            "userIds": [address],
            "msgKey": "sampleText",
            "msgParam": json.dumps({"content": text}, ensure_ascii=False),
        }
        answer = await self.api.call("POST", BATCH_SEND, body)
        if address in (answer.get("invalidStaffIdList") or []):
            raise ChannelError(f"{self.name} does not know user {address}", retryable=False)

    async def urge(self, address: str, external_ref: str, kind: UrgencyKind, text: str) -> None:
        """A DING (``robot/ding/send``; remindType 1 in-app, 2 SMS, 3 phone) to the card's
        receiver, saying ``text``; the card itself stays the one already sent."""
        if kind not in self.capabilities.urgency:
            await super().urge(address, external_ref, kind, text)
        body = {
            "robotCode": self._robot_code,
            "remindType": REMIND_TYPE[kind],
            "receiverUserIdList": [address],
            "content": text,
        }
        answer = await self.api.call("POST", DING_SEND, body)
        if not answer.get("openDingId"):
            raise ChannelError(f"{self.name} sent no DING to {address}", retryable=False)

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """Redraw the card to the request's current state (merged by key)."""
        track_id = card.delivery.external_ref or out_track_id(card.delivery.id)
        body: dict[str, Any] = {
            "outTrackId": track_id,
            "cardData": {"cardParamMap": self._params(card)},
            "cardUpdateOptions": BY_KEY,
            "userIdType": 1,
        }
        if card.request.status is not RequestStatus.PENDING and card.delivery.address:
            # A "processing" notice left by a late click's ACK is private to its owner and the
            # shared data does not reach it: the card showing the outcome clears it.
            body["privateData"] = {card.delivery.address: {"cardParamMap": _NO_NOTICE}}
        await self.api.call("PUT", UPDATE_CARD, body, within=UPDATE_WITHIN)
        return SendReceipt(external_ref=track_id)

    @staticmethod
    def _params(card: OutgoingCard) -> dict[str, str]:
        return render_dingtalk(card_view(card.request, card.delivery))

    # -- inbound: the transports hand clicks and messages to Inbound --------------------------
    async def _update_card(self, body: dict[str, Any]) -> None:
        await self.api.call("PUT", UPDATE_CARD, body)

    async def _reply(self, webhook: str, text: str, staff_id: str) -> None:
        body = {"msgtype": "text", "text": {"content": text}, "at": {"atUserIds": [staff_id]}}
        try:
            await self.api.post_webhook(webhook, body)
        except ChannelError as exc:
            log.warning("chat reply failed", extra=kv(why=exc.message))

    def _crypto(self) -> EventCrypto | None:
        token, key = self.settings.callback_token, self.settings.callback_aes_key
        if token is None or key is None:
            return None
        return EventCrypto(token.get_secret_value(), key.get_secret_value(), self._client_id)


def _check_delivered(answer: dict[str, Any]) -> None:
    result = answer.get("result")
    results = result.get("deliverResults") if isinstance(result, dict) else None
    failed = [r for r in results or [] if isinstance(r, dict) and not r.get("success", False)]
    if answer.get("success") is False or failed:
        why = failed[0].get("errorMsg") if failed else answer.get("message")
        raise ChannelError(f"card not delivered: {why}", retryable=False)
