"""What arrives from DingTalk (card clicks, chat messages), turned into core's inbound calls and back.

A click's whole way through the DingTalk package after the transport: the stream client's frame
handlers (:mod:`bot.channels.dingtalk.runner`) call :meth:`Inbound.on_stream` on the SDK's loop,
the HTTP callback route (:mod:`bot.channels.dingtalk.http`) calls :meth:`Inbound.click` and
:meth:`Inbound.apply_click` on the gateway's. Either way the click becomes an
:class:`InboundAction` for core's dispatch and the answer (the clicker's redrawn card and a
private notice) goes back: in the stream's ACK within the frame's budget (a later one is
"processing" and the outbox redraws the card), or in HTTP mode through the card API. Each frame
is handled once per message id: a redelivered frame (same messageId) waits for, and gets, the
first handling's answer.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import dingtalk_stream

from bot.channels.common.bridge import Bridge, ClickAnswer, Once
from bot.channels.present import card_view, toast_kind, toast_text
from bot.core.models import ActionResult, ActionStatus, ClickAction, InboundAction
from bot.core.ports import InboundMessage, InboundSink
from bot.errors import ChannelError, StoreError
from bot.logs import kv
from cards import parse_click, render_dingtalk

log = logging.getLogger("bot.channels.dingtalk")

OUT_TRACK_PREFIX = "approval_"
NOT_APPROVER = ActionResult(status=ActionStatus.NOT_APPROVER)
UNKNOWN_CARD = ActionResult(status=ActionStatus.UNKNOWN_CARD)
Response = dict[str, Any]
Reply = Callable[[str, str, str], Awaitable[None]]
UpdateCard = Callable[[dict[str, Any]], Awaitable[None]]  # PUT /v1.0/card/instances
AfterAck = Callable[[str, Callable[[bool], None]], None]  # the stream client's after_ack
OK = dingtalk_stream.AckMessage.STATUS_OK
FAILED = dingtalk_stream.AckMessage.STATUS_SYSTEM_EXCEPTION
BY_KEY = {"updateCardDataByKey": True, "updatePrivateDataByKey": True}
# Sent before the request's locale is known, so in both languages.
PROCESSING = (
    "Your choice is being recorded; the card will update shortly. "
    "正在记录你的审批意见，卡片稍后更新。"
)
# A click the store could not record (unavailable: a full disk, the database down): only the
# private notice changes, the card keeps its buttons and the approver can tap again.
NOT_RECORDED = (
    "Your choice was not recorded; please try again in a moment. 你的审批意见未能记录，请稍后再试。"
)
RESTARTING = (
    "The approval service is restarting; tap again in a moment. 审批服务正在重启，请稍后再点。"
)


def out_track_id(delivery_id: str) -> str:
    """The card instance id of a delivery: stable, so a retried send finds the same card."""
    return OUT_TRACK_PREFIX + delivery_id


def delivery_of(track_id: str) -> str | None:
    """The delivery id a card instance id was derived from."""
    return (
        track_id.removeprefix(OUT_TRACK_PREFIX) if track_id.startswith(OUT_TRACK_PREFIX) else None
    )


def click_response(result: ActionResult, track_id: str) -> Response:
    """The ACK response: the clicker's redrawn card (merged by key) and a private notice."""
    response = notice_response(toast_text(result), toast_kind(result))
    request, delivery = result.request, result.delivery
    # Only redraw the card that was clicked, never paint another delivery onto it.
    if request is not None and delivery is not None and delivery.id == delivery_of(track_id):
        response["cardData"] = {"cardParamMap": render_dingtalk(card_view(request, delivery))}
    return response


def notice_response(text: str, kind: str) -> Response:
    """An ACK response that only puts a private notice on the clicker's card."""
    return {
        "cardUpdateOptions": dict(BY_KEY),
        "userPrivateData": {"cardParamMap": {"notice": text, "noticeKind": kind}},
    }


class Inbound:
    """Clicks and chat messages of one DingTalk channel, handed to core's dispatch and answered."""

    def __init__(
        self,
        channel: str,
        corp_id: str | None,
        bridge: Bridge,
        *,
        reply: Reply,
        update_card: UpdateCard,
    ) -> None:
        self._channel = channel
        self._corp_id = corp_id
        self._bridge = bridge
        self._reply = reply
        self._update_card = update_card
        self._clicks: Once[ClickAnswer] = Once()
        self._messages: Once[Response] = Once()
        self.open = True  # False once the channel stopped: late frames are told to retry

    async def click(self, message_id: str, data: dict[str, Any], source: str) -> ClickAnswer:
        """A card callback (``/v1.0/card/instances/callback`` payload); its ACK response."""
        return await self._clicks.run(message_id, lambda: self._click(data, source))

    async def message(self, message_id: str, data: dict[str, Any], source: str) -> Response:
        """A chat message to the robot; the dispatch's answer goes back through the reply."""
        return await self._messages.run(message_id, lambda: self._message(data, source))

    # -- the stream (called on the SDK's loop) -------------------------------------------------
    async def on_stream(self, message: Any, chat: bool, after_ack: AfterAck) -> tuple[int, Any]:
        """Hand a stream frame to the gateway's loop; answer within what is left of the budget."""
        headers = message.headers
        key, source = str(headers.message_id), f"stream:{headers.connection_id}"
        if not self.open:
            # Not pushed again whatever we do: answer, and let the clicker tap once more.
            return OK, ("OK" if chat else notice_response(RESTARTING, "info"))
        if chat:
            await self._bridge.within_budget(self.message(key, message.data, source))
            return OK, "OK"  # robot messages are not pushed again either: taken, late or not
        return await self._stream_click(key, message.data, source, after_ack)

    async def _stream_click(
        self, key: str, data: dict[str, Any], source: str, after_ack: AfterAck
    ) -> tuple[int, Any]:
        future, ready = await self._bridge.within_budget(self.click(key, data, source))
        if not ready:
            log.warning("click answer late; answered 'processing'", extra=kv(frame=key))
            future.add_done_callback(self._late)
            return OK, notice_response(PROCESSING, "info")
        error = future.exception()
        if error is not None:
            log.error("click failed", exc_info=error, extra=kv(frame=key))
            return FAILED, {}
        answer = future.result()
        after_ack(key, lambda written: self._bridge.report(answer, written))
        return OK, answer.response

    def _late(self, future: concurrent.futures.Future[ClickAnswer]) -> None:
        # The ACK went out saying "processing", so the card is not redrawn: the outbox does it.
        if not future.cancelled() and future.exception() is None:
            self._bridge.report(future.result(), written=False)

    # -- HTTP mode (on the gateway's loop) ------------------------------------------------------
    async def apply_click(self, data: dict[str, Any], answer: ClickAnswer) -> None:
        """HTTP mode has no ACK to carry the redraw: push it with the card API instead."""
        response = answer.response
        body: dict[str, Any] = {"outTrackId": data["outTrackId"], "cardUpdateOptions": BY_KEY}
        if "cardData" in response:
            body["cardData"] = response["cardData"]
        private = response.get("userPrivateData")
        if private and data.get("userId"):
            body["privateData"] = {str(data["userId"]): private}
        try:
            await self._update_card(body)
            redrawn = answer.carries_card
        except ChannelError as exc:
            log.warning("clicker's card not redrawn", extra=kv(why=exc.message))
            redrawn = False
        await self._bridge.answered(answer, redrawn=redrawn)

    # -- translation: DingTalk's payloads to core's calls and back ------------------------------
    def _sink(self) -> InboundSink:
        if self._bridge.sink is None:
            raise ChannelError(f"the {self._channel} channel is not started")
        return self._bridge.sink

    async def _click(self, data: dict[str, Any], source: str) -> ClickAnswer:
        track_id = str(data.get("outTrackId", ""))
        user_id, corp_id = str(data.get("userId", "")), str(data.get("corpId", ""))
        click = parse_click(_params(data.get("content")), None)
        where = {"channel": self._channel, "out_track_id": track_id, "source": source}
        if click is None:
            log.warning("click without our action params", extra=kv(**where))
            return ClickAnswer(click_response(UNKNOWN_CARD, track_id))
        if not user_id or (self._corp_id and corp_id != self._corp_id):
            log.warning("click from outside the organisation refused", extra=kv(**where))
            return ClickAnswer(click_response(NOT_APPROVER, track_id))
        action = InboundAction(
            channel=self._channel,
            actor=user_id,
            ref=click.ref,
            action=ClickAction(click.action),
            comment=click.comment,
            source=source,
        )
        try:
            result = await self._sink().action(action)
        except StoreError as exc:
            log.warning(
                "click not recorded: the store failed", extra=kv(**where, error=exc.message)
            )
            return ClickAnswer(notice_response(NOT_RECORDED, "error"))
        log.info("click handled", extra=kv(**where, status=result.status.value))
        response = click_response(result, track_id)
        return ClickAnswer(response, result, carries_card="cardData" in response)

    async def _message(self, data: dict[str, Any], source: str) -> Response:
        sender, corp_id = str(data.get("senderStaffId") or ""), str(data.get("senderCorpId", ""))
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not sender or not isinstance(content, str):
            return {}  # outside the org (no staff id) or not text: nothing to bind on
        if self._corp_id and corp_id != self._corp_id:
            log.warning("message from outside the organisation ignored")
            return {}
        answer = await self._sink().message(
            InboundMessage(
                channel=self._channel, sender=sender, text=content.strip(), source=source
            )
        )
        webhook = data.get("sessionWebhook")
        if answer and isinstance(webhook, str) and webhook.startswith(("http://", "https://")):
            await self._reply(webhook, answer, sender)
        return {}


def _params(content: object) -> dict[str, Any]:
    # ``content`` is a JSON string holding cardPrivateData.params.
    try:
        decoded = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return {}
    private = decoded.get("cardPrivateData") if isinstance(decoded, dict) else None
    params = private.get("params") if isinstance(private, dict) else None
    return params if isinstance(params, dict) else {}
