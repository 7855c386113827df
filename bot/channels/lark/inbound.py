"""What arrives from Lark (card clicks, chat messages), turned into core's inbound calls and back.

A click's whole way through the Lark package after the transport: the long connection's awaiting
handler (:mod:`bot.channels.lark.ws`) calls :meth:`LarkInbound.on_stream` on the SDK's loop; the
HTTP callback route (:mod:`bot.channels.lark.http`) calls :meth:`LarkInbound.click` through the
bridge. Either way the event hops to the gateway's loop (:class:`~bot.channels.common.bridge.Bridge`),
becomes an :class:`InboundAction` for core's dispatch, and the answer (a toast and the clicker's
redrawn card) goes back within the frame's budget; a later answer is "processing" and the card
follows through the delayed-update API once the ACK is out. Events are plain dicts (the SDK's
event objects marshalled back to JSON), so nothing here imports the SDK.

Each event is handled once per ``header.event_id``: the platform redelivers an event whose ACK
did not arrive (and the SDK hands every part of a redelivered multi-part event to the handler
again), and a repeat gets the first handling's answer.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.common.bridge import AfterAck, Bridge, ClickAnswer, Join, Once
from bot.channels.present import card_view, toast_kind, toast_text
from bot.core.models import ActionResult, ActionStatus, ClickAction, InboundAction
from bot.core.ports import InboundMessage, InboundSink
from bot.errors import ChannelError, StoreError
from bot.logs import kv
from cards import parse_click, render_lark, takes_clicks

log = logging.getLogger("bot.channels.lark")

NOT_APPROVER = ActionResult(status=ActionStatus.NOT_APPROVER)
UNKNOWN_CARD = ActionResult(status=ActionStatus.UNKNOWN_CARD)
Response = dict[str, Any]
Reply = Callable[[str, str], Awaitable[None]]
DelayedUpdate = Callable[[str, dict[str, Any]], Awaitable[None]]
Fallback = Callable[[bytes], Any]  # the SDK's own dispatcher, for events we do not handle
PROCESSING = {
    "type": "info",
    "content": "Your choice is being recorded; the card will update shortly.",
    "i18n": {
        "en_us": "Your choice is being recorded; the card will update shortly.",
        "zh_cn": "正在记录你的审批意见，卡片稍后更新。",
    },
}


# A click the store could not record (unavailable: a full disk, the database down): the card is
# left as it is, buttons and all, so the approver can simply tap again. The request's language
# cannot be read then, so the toast carries both and Lark shows the clicker's.
NOT_RECORDED = {
    "type": "error",
    "content": "Your choice was not recorded; please try again in a moment.",
    "i18n": {
        "en_us": "Your choice was not recorded; please try again in a moment.",
        "zh_cn": "你的审批意见未能记录，请稍后再试。",
    },
}


def event_id(event: dict[str, Any]) -> str:
    """``header.event_id`` (v2) or ``uuid`` (v1): the platform's id of one event."""
    header = event.get("header")
    found = header.get("event_id") if isinstance(header, dict) else event.get("uuid")
    return str(found or "")


def click_response(result: ActionResult, message_id: str) -> Response:
    """The callback answer: a toast for the clicker and, for their own card, its redraw."""
    response: Response = {"toast": {"type": toast_kind(result), "content": toast_text(result)}}
    request, delivery = result.request, result.delivery
    # Only redraw the card that was clicked, never paint another delivery onto it.
    if request is None or delivery is None or delivery.external_ref != message_id:
        return response
    view = card_view(request, delivery)
    # A refusal that leaves the card clickable leaves it as it is: a redraw here would lose
    # its picker's candidates, which only the card loads read (bot.core.card_loads).
    if result.changed_card or not takes_clicks(view):
        response["card"] = {"type": "raw", "data": render_lark(view)}
    return response


class LarkInbound:
    """Clicks and chat messages of one Lark channel, handed to core's dispatch and answered."""

    def __init__(
        self,
        channel: str,
        id_type: str,
        bridge: Bridge,
        *,
        reply: Reply,
        delayed_update: DelayedUpdate,
    ) -> None:
        self._channel = channel
        # The clicker is matched against bindings made with the receive_id_type's identity.
        self._id_type = id_type if id_type in ("open_id", "user_id", "union_id") else "open_id"
        self.bridge = bridge
        self._reply = reply
        self._delayed_update = delayed_update
        self._clicks: Once[ClickAnswer] = Once()
        self._messages: Once[Response] = Once()

    def seen(self, key: str) -> bool:
        """Whether the event with this id was already taken."""
        return self._clicks.seen(key) or self._messages.seen(key)

    async def click(self, event: dict[str, Any], source: str) -> ClickAnswer:
        """A ``card.action.trigger`` callback; its answer: a toast and the clicker's card."""
        return await self._clicks.run(event_id(event), lambda: self._click(event, source))

    async def message(self, event: dict[str, Any], source: str) -> Response:
        """An ``im.message.receive_v1`` event; the dispatch's answer is sent back as a reply."""
        key = event_id(event)
        return await self._messages.run(key, lambda: self._message(event, source))

    # -- the long connection (called on the SDK's loop) ----------------------------------------
    async def on_stream(self, payload: bytes, fallback: Fallback) -> tuple[Any, AfterAck | None]:
        """One event frame: its ACK's data, and who to tell once the ACK is written."""
        event = json.loads(payload)
        kind = _dict(event.get("header")).get("event_type")
        if kind == "card.action.trigger":
            return await self._stream_click(event)
        if kind == "im.message.receive_v1":
            await self.bridge.within_budget(self.message(event, "stream"))
            return None, None  # an event: ACKed late or not, Lark pushes it again if unACKed
        return fallback(payload), None  # the SDK answers anything else at once

    async def _stream_click(self, event: dict[str, Any]) -> tuple[Response, AfterAck]:
        future, ready = await self.bridge.within_budget(self.click(event, "stream"))
        if not ready:
            log.warning("click answer late; answered 'processing'", extra=kv(event=event_id(event)))
            return {"toast": PROCESSING}, self.late(future, event).acked
        answer = future.result()  # a failure raises: the SDK's way, an ACK with code 500
        return answer.response, lambda written: self.bridge.report(answer, written)

    # -- a late answer: "processing" went out, the card follows ---------------------------------
    def late(self, future: concurrent.futures.Future[ClickAnswer], event: dict[str, Any]) -> Join:
        """Once the "processing" ACK is out and the decision ready, redraw the clicker's card."""
        token = str(_dict(event.get("event")).get("token") or "")

        def redraw(answer: ClickAnswer, acked: bool) -> None:
            self.bridge.run(self._redraw_late(answer, token, acked))

        join = Join(redraw)

        def decided(done: concurrent.futures.Future[ClickAnswer]) -> None:
            if not done.cancelled() and done.exception() is None:
                join.answered(done.result())

        future.add_done_callback(decided)
        return join

    async def _redraw_late(self, answer: ClickAnswer, token: str, acked: bool) -> None:
        # The delayed update may only follow the callback's answer (doc uMDO1YjLzgTN24yM4UjN).
        card = answer.response.get("card")
        redrawn = False
        if acked and answer.carries_card and token and isinstance(card, dict):
            try:
                await self._delayed_update(token, card["data"])
                redrawn = True
            except ChannelError as exc:
                log.warning("clicker's card not redrawn late", extra=kv(why=exc.message))
        how = "redrawn by the delayed update" if redrawn else ""
        await self.bridge.answered(answer, redrawn=redrawn, how=how)

    # -- translation: Lark's payloads to core's calls and back ----------------------------------
    async def _click(self, event: dict[str, Any], source: str) -> ClickAnswer:
        body = _dict(event.get("event"))
        action, operator = _dict(body.get("action")), _dict(body.get("operator"))
        message_id = str(_dict(body.get("context")).get("open_message_id", ""))
        form = action.get("form_value")
        # A pick on the person picker (tag select_person) names the person in action.option
        # (their open_id; P2CardActionTrigger's CallBackAction); a button has none.
        option = action.get("option") if action.get("tag") == "select_person" else None
        value = _dict(action.get("value"))
        click = parse_click(value, form if isinstance(form, dict) else None, option)
        actor = str(operator.get(self._id_type) or "")
        where = {"channel": self._channel, "message_id": message_id, "source": source}
        if click is None:
            log.warning("click without our button value", extra=kv(**where))
            return ClickAnswer(click_response(UNKNOWN_CARD, message_id))
        if not actor:
            log.warning("click without the clicker's identity refused", extra=kv(**where))
            return ClickAnswer(click_response(NOT_APPROVER, message_id))
        inbound = InboundAction(
            channel=self._channel,
            actor=actor,
            ref=click.ref,
            action=ClickAction(click.action),
            comment=click.comment,
            source=source,
            to=click.to,
        )
        try:
            result = await self._sink().action(inbound)
        except StoreError as exc:
            log.warning(
                "click not recorded: the store failed", extra=kv(**where, error=exc.message)
            )
            return ClickAnswer({"toast": NOT_RECORDED})
        log.info("click handled", extra=kv(**where, status=result.status.value))
        response = click_response(result, message_id)
        return ClickAnswer(response, result, carries_card="card" in response)

    def _sink(self) -> InboundSink:
        if self.bridge.sink is None:
            raise ChannelError(f"the {self._channel} channel is not started")
        return self.bridge.sink

    async def _message(self, event: dict[str, Any], source: str) -> Response:
        body = _dict(event.get("event"))
        message = _dict(body.get("message"))
        sender = str(_dict(_dict(body.get("sender")).get("sender_id")).get("open_id") or "")
        text = _text(message)
        if not sender or message.get("chat_type") != "p2p" or text is None:
            return {}  # group chatter or not text: nothing to bind on
        answer = await self._sink().message(
            InboundMessage(channel=self._channel, sender=sender, text=text, source=source)
        )
        if answer:
            await self._reply(sender, answer)
        return {}


def _text(message: dict[str, Any]) -> str | None:
    if message.get("message_type") != "text":
        return None
    try:
        content = json.loads(str(message.get("content") or ""))
    except ValueError:
        return None
    text = content.get("text") if isinstance(content, dict) else None
    return text.strip() if isinstance(text, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
