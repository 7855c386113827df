"""What arrives from Lark (card clicks, chat messages), turned into domain calls.

Runs on the gateway's loop whatever the transport: the long-connection handler hops over from
the SDK thread, the HTTP callback route is already here. Events are plain dicts (the SDK's event
objects marshalled back to JSON), so nothing here imports the SDK.

Each event is handled once per ``header.event_id``: the platform redelivers an event whose ACK
did not arrive (and the SDK hands every part of a redelivered multi-part event to the handler
again), and a repeat gets the first handling's answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.common.answers import ClickAnswer
from bot.channels.common.once import Once
from bot.channels.present import card_view, toast_kind, toast_text
from bot.core.models import ActionResult, ActionStatus, ClickAction, InboundAction
from bot.core.ports import InboundMessage, InboundSink
from bot.logs import kv
from cards import parse_click, render_lark

log = logging.getLogger("bot.channels.lark")

NOT_APPROVER = ActionResult(status=ActionStatus.NOT_APPROVER)
UNKNOWN_CARD = ActionResult(status=ActionStatus.UNKNOWN_CARD)
Response = dict[str, Any]
Reply = Callable[[str, str], Awaitable[None]]


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
    if request is not None and delivery is not None and delivery.external_ref == message_id:
        card = render_lark(card_view(request, delivery))
        response["card"] = {"type": "raw", "data": card}
    return response


class LarkInbound:
    """Clicks and chat messages of the Lark channel, handed to the gateway's sink."""

    def __init__(self, channel: str, id_type: str, sink: InboundSink) -> None:
        self._channel = channel
        # The clicker is matched against bindings made with the receive_id_type's identity.
        self._id_type = id_type if id_type in ("open_id", "user_id", "union_id") else "open_id"
        self._sink = sink
        self._clicks: Once[ClickAnswer] = Once()
        self._messages: Once[Response] = Once()

    def seen(self, key: str) -> bool:
        """Whether the event with this id was already taken."""
        return self._clicks.seen(key) or self._messages.seen(key)

    async def click(self, event: dict[str, Any], source: str) -> ClickAnswer:
        """A ``card.action.trigger`` callback; its answer: a toast and the clicker's card."""
        return await self._clicks.run(event_id(event), lambda: self._click(event, source))

    async def message(self, event: dict[str, Any], source: str, reply: Reply) -> Response:
        """An ``im.message.receive_v1`` event; the sink's answer goes back through ``reply``."""
        key = event_id(event)
        return await self._messages.run(key, lambda: self._message(event, source, reply))

    async def _click(self, event: dict[str, Any], source: str) -> ClickAnswer:
        body = _dict(event.get("event"))
        action, operator = _dict(body.get("action")), _dict(body.get("operator"))
        message_id = str(_dict(body.get("context")).get("open_message_id", ""))
        form = action.get("form_value")
        click = parse_click(_dict(action.get("value")), form if isinstance(form, dict) else None)
        actor = str(operator.get(self._id_type) or "")
        where = {"channel": self._channel, "message_id": message_id, "source": source}
        if click is None:
            log.warning("click without our button value", extra=kv(**where))
            return ClickAnswer(click_response(UNKNOWN_CARD, message_id))
        if not actor:
            log.warning("click without the clicker's identity refused", extra=kv(**where))
            return ClickAnswer(click_response(NOT_APPROVER, message_id))
        result = await self._sink.action(
            InboundAction(
                channel=self._channel,
                actor=actor,
                ref=click.ref,
                action=ClickAction(click.action),
                comment=click.comment,
                source=source,
            )
        )
        log.info("click handled", extra=kv(**where, status=result.status.value))
        response = click_response(result, message_id)
        return ClickAnswer(response, result, carries_card="card" in response)

    async def _message(self, event: dict[str, Any], source: str, reply: Reply) -> Response:
        body = _dict(event.get("event"))
        message = _dict(body.get("message"))
        sender = str(_dict(_dict(body.get("sender")).get("sender_id")).get("open_id") or "")
        text = _text(message)
        if not sender or message.get("chat_type") != "p2p" or text is None:
            return {}  # group chatter or not text: nothing to bind on
        answer = await self._sink.message(
            InboundMessage(channel=self._channel, sender=sender, text=text, source=source)
        )
        if answer:
            await reply(sender, answer)
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
