"""What arrives from DingTalk (card clicks, chat messages), turned into domain calls.

Runs on the gateway's loop whatever the transport: the stream handlers hop over from the SDK
thread, the HTTP callback routes are already here. Each frame is handled once per message id:
a redelivered frame (same messageId) waits for, and gets, the first handling's answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.common.bridge import ClickAnswer, Once
from bot.channels.present import card_view, toast_kind, toast_text
from bot.core.models import ActionResult, ActionStatus, ClickAction, InboundAction
from bot.core.ports import InboundMessage, InboundSink
from bot.logs import kv
from cards import parse_click, render_dingtalk

log = logging.getLogger("bot.channels.dingtalk")

OUT_TRACK_PREFIX = "approval_"
NOT_APPROVER = ActionResult(status=ActionStatus.NOT_APPROVER)
UNKNOWN_CARD = ActionResult(status=ActionStatus.UNKNOWN_CARD)
Response = dict[str, Any]
BY_KEY = {"updateCardDataByKey": True, "updatePrivateDataByKey": True}
# Sent before the request's locale is known, so in both languages.
PROCESSING = (
    "Your choice is being recorded; the card will update shortly. "
    "正在记录你的审批意见，卡片稍后更新。"
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
    """Clicks and chat messages of one DingTalk channel, handed to the gateway's sink."""

    def __init__(self, channel: str, corp_id: str | None, sink: InboundSink) -> None:
        self._channel = channel
        self._corp_id = corp_id
        self._sink = sink
        self._clicks: Once[ClickAnswer] = Once()
        self._messages: Once[Response] = Once()

    async def click(self, message_id: str, data: dict[str, Any], source: str) -> ClickAnswer:
        """A card callback (``/v1.0/card/instances/callback`` payload); its ACK response."""
        return await self._clicks.run(message_id, lambda: self._click(data, source))

    async def message(
        self,
        message_id: str,
        data: dict[str, Any],
        source: str,
        reply: Callable[[str, str, str], Awaitable[None]],
    ) -> Response:
        """A chat message to the robot; the sink's answer goes back through ``reply``."""
        return await self._messages.run(message_id, lambda: self._message(data, source, reply))

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
        result = await self._sink.action(action)
        log.info("click handled", extra=kv(**where, status=result.status.value))
        response = click_response(result, track_id)
        return ClickAnswer(response, result, carries_card="cardData" in response)

    async def _message(
        self,
        data: dict[str, Any],
        source: str,
        reply: Callable[[str, str, str], Awaitable[None]],
    ) -> Response:
        sender, corp_id = str(data.get("senderStaffId") or ""), str(data.get("senderCorpId", ""))
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not sender or not isinstance(content, str):
            return {}  # outside the org (no staff id) or not text: nothing to bind on
        if self._corp_id and corp_id != self._corp_id:
            log.warning("message from outside the organisation ignored")
            return {}
        answer = await self._sink.message(
            InboundMessage(
                channel=self._channel, sender=sender, text=content.strip(), source=source
            )
        )
        webhook = data.get("sessionWebhook")
        if answer and isinstance(webhook, str) and webhook.startswith(("http://", "https://")):
            await reply(webhook, answer, sender)
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
