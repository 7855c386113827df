"""HTTP callback mode: ``POST /callbacks/lark`` for deployments that prefer a public URL.

The SDK's ``EventDispatcherHandler.do`` does the platform's part: url_verification challenge,
Encrypt Key decryption, the ``X-Lark-Signature`` check (sha256 over timestamp + nonce + key +
body) and the verification token. It does not look at the timestamp's age nor remember events,
so a captured callback could be replayed forever; this route adds both through the
:class:`CallbackGuard`: the timestamp must be within the one callback window, and an
``event_id`` is taken once in the store for as long as that window could accept it, across
restarts and replicas (a replay gets 409 and reaches nothing). ``do`` is synchronous and calls
our handlers synchronously, so it runs on a worker thread and the handlers hop back to the
gateway's loop (:mod:`bot.channels.lark.inbound` takes it from there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
from aiohttp import web
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from bot.channels.common.bridge import ClickAnswer
from bot.channels.lark.inbound import PROCESSING, LarkInbound, Response, event_id
from bot.core.ports import CallbackGuard
from bot.errors import ChannelError, VerificationError
from bot.logs import kv

log = logging.getLogger("bot.channels.lark")

# The SDK reads these from a plain dict, case-sensitively: pass them spelled its way.
SIGNED_HEADERS = ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")


class Replayed(Exception):
    """An event id that was already taken arrived again."""


@dataclass
class CallState:
    """What happened to one callback inside the SDK's dispatcher (read after ``do`` returns)."""

    handled: bool = False
    replayed: bool = False


CURRENT: contextvars.ContextVar[CallState] = contextvars.ContextVar("lark_callback")


def dispatcher(
    encrypt_key: str = "",
    token: str = "",
    on_card: Callable[[Any], P2CardActionTriggerResponse] | None = None,
    on_message: Callable[[Any], None] | None = None,
) -> lark.EventDispatcherHandler:
    """The SDK's event dispatcher; without handlers it answers only what the SDK itself does."""
    builder = lark.EventDispatcherHandler.builder(encrypt_key, token)
    if on_card is not None:
        builder = builder.register_p2_card_action_trigger(on_card)
    if on_message is not None:
        builder = builder.register_p2_im_message_receive_v1(on_message)
    return builder.build()


class CallbackEndpoint:
    """The HTTP callback route of the Lark channel."""

    def __init__(
        self,
        *,
        name: str,
        keys: tuple[str, str],
        budget: float,
        guard: CallbackGuard,
        inbound: Callable[[], LarkInbound | None],
    ) -> None:
        self._name = name
        self._budget = budget
        self._guard = guard
        self._inbound = inbound
        self._dispatcher = dispatcher(*keys, on_card=self._on_card, on_message=self._on_message)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check freshness, let the SDK verify and dispatch, map its answer to ours."""
        if self._inbound() is None:
            return _refuse(503, "channel is not started")
        body = await request.read()
        try:
            self._fresh(request.headers.get(SIGNED_HEADERS[0]))
        except VerificationError as exc:
            log.warning("lark callback refused", extra=kv(why=exc.message))
            return _refuse(401, exc.message)
        raw = lark.RawRequest()
        raw.uri = request.path
        raw.headers = {k: request.headers[k] for k in SIGNED_HEADERS if k in request.headers}
        raw.body = body
        state = CallState()
        CURRENT.set(state)
        # to_thread copies this context, so the handlers see the same CallState.
        answer = await asyncio.to_thread(self._dispatcher.do, raw)
        return _answer(answer, state)

    def _fresh(self, timestamp: str | None) -> None:
        # No timestamp is left to the SDK: only url_verification passes without a signature.
        if timestamp is None:
            return
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise VerificationError("callback timestamp is not a number")
        self._guard.fresh(int(timestamp))  # Lark stamps callbacks in seconds

    # -- the SDK's handlers (on the worker thread running ``do``) -------------------------------
    def _on_card(self, data: Any) -> P2CardActionTriggerResponse:
        event = json.loads(lark.JSON.marshal(data))
        inbound = self._require_inbound()
        future = inbound.bridge.hop(self._click(inbound, event))
        answer = self._wait(future)
        if answer is None:
            log.warning("click answer late; answered 'processing'", extra=kv(event=event_id(event)))
            inbound.late(future, event).acked(True)  # the HTTP answer leaves as we return
            return P2CardActionTriggerResponse({"toast": PROCESSING})
        inbound.bridge.report(answer, True)
        return P2CardActionTriggerResponse(answer.response)

    def _on_message(self, data: Any) -> None:
        event = json.loads(lark.JSON.marshal(data))
        inbound = self._require_inbound()
        self._wait(inbound.bridge.hop(self._message(inbound, event)))

    def _wait(self, future: concurrent.futures.Future[Any]) -> Any:
        """The answer within the budget (None when it ran out), on the HTTP worker thread."""
        state = CURRENT.get(None)
        try:
            answer = future.result(timeout=self._budget)
        except concurrent.futures.TimeoutError:
            answer = None
        except Replayed:
            if state is not None:
                state.replayed = True
            raise
        if state is not None:
            state.handled = True
        return answer

    def _require_inbound(self) -> LarkInbound:
        inbound = self._inbound()
        if inbound is None:
            raise ChannelError("the Lark channel is not started")
        return inbound

    # -- on the gateway's loop -------------------------------------------------------------------
    async def _click(self, inbound: LarkInbound, event: dict[str, Any]) -> ClickAnswer:
        await self._refuse_replay(inbound, event)
        return await inbound.click(event, "http")

    async def _message(self, inbound: LarkInbound, event: dict[str, Any]) -> Response:
        await self._refuse_replay(inbound, event)
        return await inbound.message(event, "http")

    async def _refuse_replay(self, inbound: LarkInbound, event: dict[str, Any]) -> None:
        # Over HTTP nothing legitimate repeats an event we answered (over the long connection a
        # repeat is a redelivery and gets the first answer), so a repeat is refused, by the
        # store's memory (restarts and replicas) or, while it is in flight, by this process's.
        # Taken before handling: the SDK gives no hook after a failed handler to forget it, so a
        # click whose handling failed is answered with an error and the approver clicks again.
        key = event_id(event)
        if inbound.seen(key) or not await self._guard.take(f"{self._name}:{key}"):
            raise Replayed(key)


def _answer(answer: Any, state: CallState) -> web.Response:
    content = bytes(answer.content or b"{}")
    if state.replayed:
        log.warning("lark callback replay refused")
        return _refuse(409, "event already taken")
    if answer.status_code != 200 and not state.handled:
        # Decryption, signature or token failed inside the SDK (it answers 500 for all).
        why = _message(content)
        log.warning("lark callback refused", extra=kv(why=why))
        return _refuse(401, why)
    return web.Response(
        status=answer.status_code, body=content, content_type="application/json", charset="utf-8"
    )


def _message(content: bytes) -> str:
    try:
        value = json.loads(content)
    except ValueError:
        return "callback refused"
    return str(value.get("msg", "callback refused")) if isinstance(value, dict) else "refused"


def _refuse(status: int, why: str) -> web.Response:
    return web.json_response({"error": why}, status=status)
