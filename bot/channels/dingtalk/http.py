"""HTTP callback mode: ``POST /callbacks/<channel>`` for apps that cannot hold a stream open.

Two kinds of calls arrive on the one URL:

- event-subscription envelopes (``?signature&timestamp&nonce`` + ``{"encrypt"}``): verified and
  decrypted with :class:`EventCrypto`, answered with the encrypted ``"success"``. A decrypted
  card callback (``outTrackId`` + ``content``) is a click;
- robot messages (``timestamp`` + ``sign`` headers, plain JSON body): a chat message.

Both must be fresh and are taken once: the :class:`CallbackGuard` (kept in the store, so it
survives restarts and is shared by replicas) checks the timestamp against the one callback window
and remembers each envelope signature or robot sign for as long as that window could accept it;
a replay is refused with 409 and reaches nothing. A callback whose handling failed is forgotten,
so the platform's retry is taken.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.dingtalk.crypto import EventCrypto, robot_sign
from bot.channels.dingtalk.inbound import Inbound
from bot.core.ports import CallbackGuard
from bot.errors import VerificationError
from bot.logs import kv

log = logging.getLogger("bot.channels.dingtalk")


class CallbackEndpoint:
    """The HTTP callback route of one DingTalk channel."""

    def __init__(
        self,
        *,
        name: str,
        crypto: EventCrypto | None,
        app_secret: str,
        guard: CallbackGuard,
        inbound: Callable[[], Inbound | None],
    ) -> None:
        self._name = name
        self._crypto = crypto
        self._secret = app_secret
        self._guard = guard
        self._inbound = inbound

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

        async def dispatch() -> web.StreamResponse:
            assert self._crypto is not None
            if "outTrackId" in plain and "content" in plain:
                answer = await inbound.click(key, plain, "http")
                await inbound.apply_click(plain, answer)
            else:
                log.info("event callback", extra=kv(event_type=plain.get("EventType")))
            return web.json_response(self._crypto.reply("success", timestamp))

        return await self._once(key, timestamp, "callback already taken", dispatch)

    async def _robot(self, request: web.Request, inbound: Inbound) -> web.StreamResponse:
        timestamp = request.headers.get("timestamp", "")
        self._fresh(timestamp)
        sign = request.headers.get("sign", "")
        if not hmac.compare_digest(robot_sign(self._secret, timestamp), sign):
            raise VerificationError("robot signature does not match")
        body = await _json(request)
        message_id = str(body.get("msgId") or "")
        if not message_id:
            raise VerificationError("robot message has no msgId")

        async def dispatch() -> web.StreamResponse:
            await inbound.message(f"msg:{message_id}", body, "http")
            return web.json_response({})

        # The robot's sign covers only the timestamp, not the body: the signed pair is what a
        # captured request holds, so it is the pair that is taken once (whatever msgId it carries).
        return await self._once(f"sign:{sign}", timestamp, "message already taken", dispatch)

    async def _once(
        self,
        key: str,
        timestamp: str,
        replayed: str,
        dispatch: Callable[[], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        name = f"{self._name}:{key}"
        if not await self._guard.take(name, int(timestamp) / 1000):
            log.warning("callback replay refused", extra=kv(channel=self._name))
            return _refuse(409, replayed)
        try:
            return await dispatch()
        except Exception:
            await self._guard.release(name)
            raise

    def _fresh(self, timestamp: str) -> None:
        # DingTalk stamps callbacks in milliseconds.
        if not timestamp.isdigit() or len(timestamp) > 16:
            raise VerificationError("callback timestamp is missing")
        self._guard.fresh(int(timestamp) / 1000)


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
