"""HTTP callback mode: ``POST /callbacks/lark`` for deployments that prefer a public URL.

The SDK's ``EventDispatcherHandler.do`` does the platform's part: url_verification challenge,
Encrypt Key decryption, the ``X-Lark-Signature`` check (sha256 over timestamp + nonce + key +
body) and the verification token. It does not look at the timestamp's age nor remember events,
so a captured callback could be replayed forever; this route adds both through the
:class:`CallbackGuard`: the timestamp must be within the one callback window, and an
``event_id`` is taken once in the store for as long as that window could accept it, across
restarts and replicas (a replay gets 409 and reaches nothing). ``do`` is synchronous and calls our handlers synchronously, so it runs on a
worker thread and the handlers hop back to the gateway's loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
from aiohttp import web

from bot.channels.lark.inbound import LarkInbound
from bot.core.ports import CallbackGuard
from bot.errors import VerificationError
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


class CallbackEndpoint:
    """The HTTP callback route of the Lark channel."""

    def __init__(
        self,
        *,
        dispatcher: lark.EventDispatcherHandler,
        guard: CallbackGuard,
        inbound: Callable[[], LarkInbound | None],
    ) -> None:
        self._dispatcher = dispatcher
        self._guard = guard
        self._inbound = inbound

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
