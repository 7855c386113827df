"""HTTP callback mode: ``POST /callbacks/<channel>`` for apps that cannot hold a stream open.

Two kinds of calls arrive on the one URL:

- event-subscription envelopes (``?signature&timestamp&nonce`` + ``{"encrypt"}``): verified and
  decrypted with :class:`EventCrypto`, answered with the encrypted ``"success"``. A decrypted
  card callback (``outTrackId`` + ``content``) is a click;
- robot messages (``timestamp`` + ``sign`` headers, plain JSON body): a chat message.

Both must be fresh (``window`` seconds either side of now) and are taken once: a replay of the
same envelope signature or message id is refused with 409 and reaches nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.answers import ClickAnswer
from bot.channels.dingtalk_crypto import EventCrypto, robot_sign
from bot.channels.dingtalk_inbound import Inbound
from bot.errors import VerificationError
from bot.logs import kv

log = logging.getLogger("bot.channels.dingtalk")

ApplyClick = Callable[[dict[str, Any], ClickAnswer], Awaitable[None]]
Reply = Callable[[str, str, str], Awaitable[None]]


class CallbackEndpoint:
    """The HTTP callback route of one DingTalk channel."""

    def __init__(
        self,
        *,
        crypto: EventCrypto | None,
        app_secret: str,
        window: float,
        inbound: Callable[[], Inbound | None],
        apply_click: ApplyClick,
        reply: Reply,
    ) -> None:
        self._crypto = crypto
        self._secret = app_secret
        self._window = window
        self._inbound = inbound
        self._apply_click = apply_click
        self._reply = reply

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Verify, de-duplicate and dispatch one callback."""
        inbound = self._inbound()
        if inbound is None:
            return _refuse(503, "channel is not started")
        try:
            if _has_signature(request):
                return await self._event(request, inbound)
            if "sign" in request.headers:
                return await self._robot(request, inbound)
        except VerificationError as exc:
            log.warning("callback refused", extra=kv(why=exc.message, path=request.path))
            return _refuse(401, exc.message)
        return _refuse(401, "callback is not signed")

    async def _event(self, request: web.Request, inbound: Inbound) -> web.StreamResponse:
        if self._crypto is None:
            raise VerificationError("event callbacks are not configured (token, AES key)")
        query = request.query
        signature = query.get("msg_signature") or query.get("signature") or ""
        timestamp = query.get("timestamp") or query.get("timeStamp") or ""
        nonce = query.get("nonce", "")
        self._fresh(timestamp)
        encrypt = (await _json(request)).get("encrypt")
        if not isinstance(encrypt, str):
            raise VerificationError("callback body has no encrypt field")
        plain = _loads(self._crypto.decrypt(signature, timestamp, nonce, encrypt))
        key = f"event:{signature}"
        if inbound.seen(key):
            return _refuse(409, "callback already taken")
        if "outTrackId" in plain and "content" in plain:
            answer = await inbound.click(key, plain, "http")
            await self._apply_click(plain, answer)
        else:
            await inbound.note(key)
            log.info("event callback", extra=kv(event_type=plain.get("EventType")))
        return web.json_response(self._crypto.reply("success", timestamp))

    async def _robot(self, request: web.Request, inbound: Inbound) -> web.StreamResponse:
        timestamp = request.headers.get("timestamp", "")
        self._fresh(timestamp)
        expected = robot_sign(self._secret, timestamp)
        if not hmac.compare_digest(expected, request.headers.get("sign", "")):
            raise VerificationError("robot signature does not match")
        body = await _json(request)
        message_id = str(body.get("msgId") or "")
        if not message_id:
            raise VerificationError("robot message has no msgId")
        key = f"msg:{message_id}"
        if inbound.seen(key):
            return _refuse(409, "message already taken")
        await inbound.message(key, body, "http", self._reply)
        return web.json_response({})

    def _fresh(self, timestamp: str) -> None:
        if not timestamp.isdigit():
            raise VerificationError("callback timestamp is missing")
        if abs(time.time() * 1000 - int(timestamp)) > self._window * 1000:
            raise VerificationError("callback timestamp is outside the replay window")


def _has_signature(request: web.Request) -> bool:
    return "signature" in request.query or "msg_signature" in request.query


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise VerificationError("callback body is not JSON") from exc
    if not isinstance(body, dict):
        raise VerificationError("callback body is not a JSON object")
    return body


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise VerificationError("decrypted callback is not JSON") from exc
    return value if isinstance(value, dict) else {}


def _refuse(status: int, why: str) -> web.Response:
    return web.json_response({"error": why}, status=status)
