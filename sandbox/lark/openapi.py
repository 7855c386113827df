"""The HTTP side of the Lark sandbox: OpenAPI endpoints plus long-connection discovery.

Envelopes are the platform's: ``{"code": 0, "msg": "success", "data": {...}}`` on
success, a non-zero ``code`` with a ``msg`` otherwise, and rate limits as HTTP 429 with
``code`` 99991400 and ``x-ogw-ratelimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.lark.models import RequestRecord, SandboxMessage
from sandbox.lark.pickers import check_pickers
from sandbox.lark.state import (
    APP_ID_INVALID,
    APP_SECRET_INVALID,
    CARD_CONTENT_ERROR,
    CONTENT_TOO_LONG,
    FIELD_INVALID,
    INVALID_PARAM,
    RATE_LIMITED,
    RECEIVE_ID_TYPES,
    USER_OUT_OF_SCOPE,
    USER_RATE_LIMITED,
    ApiError,
    LarkStore,
    Window,
)
from sandbox.lark.ws import WsHub

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOKUP_LIMIT = 50  # batch_get_id accepts at most 50 emails and 50 mobiles
USER_ID_TYPES = ("open_id", "union_id", "user_id")
# "卡片及富文本消息请求体最大不能超过30KB; 文本消息请求体最大不能超过150KB" (im-v1/message/patch on
# open.larksuite.com; reference/im-v1/message/create states the same for sends). The limit is
# on the request body: the card is a JSON string inside it, escaped, and is counted as sent.
CARD_BODY_LIMIT = 30 * 1024
TEXT_BODY_LIMIT = 150 * 1024
_AUTH_PATH = "/open-apis/auth/"


def ok(data: dict[str, Any] | None = None, **extra: Any) -> web.Response:
    """A success envelope."""
    body: dict[str, Any] = {"code": 0, "msg": "success", **extra}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def error(exc: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    """An error envelope with the platform's code."""
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status, headers=headers)


class Faults:
    """Throttling and latency switched on by tests, and the platform's rate limits.

    The limits are the documented ones and on unless a test turns one off (None):
    "1000/min & 50/s" per API (reference/im-v1/message/create and .../patch), 5 sends a
    second to one user and 5 updates a second of one message (same docs).
    """

    def __init__(self) -> None:
        self.throttle_calls = 0
        self.throttle_reset = 1
        self.delay = 0.0
        self.user_qps: int | None = 5
        self.message_qps: int | None = 5
        self.app_qps: int | None = 50
        self.app_per_minute: int | None = 1000


class OpenApi:
    """aiohttp routes of the platform's HTTP surface, bound to one app's credentials."""

    def __init__(self, *, app_id: str, app_secret: str, store: LarkStore, hub: WsHub) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.store = store
        self.hub = hub
        self.faults = Faults()
        self.requests_log: list[RequestRecord] = []
        self.in_flight = 0  # OpenAPI calls being answered right now (e.g. held by a delay)

    def install(self, app: web.Application) -> None:
        """Add the routes and the OpenAPI middleware to ``app``."""
        app.middlewares.append(self._middleware)
        app.router.add_post("/callback/ws/endpoint", self.ws_endpoint)
        app.router.add_get("/ws", self.hub.handle_ws)
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self.token)
        app.router.add_post("/open-apis/im/v1/messages", self.create_message)
        app.router.add_patch("/open-apis/im/v1/messages/{message_id}", self.patch_message)
        app.router.add_post("/open-apis/interactive/v1/card/update", self.delayed_update)
        app.router.add_post("/open-apis/contact/v3/users/batch_get_id", self.batch_get_id)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/open-apis/"):
            return await self._answer(request, handler)
        self.in_flight += 1
        try:
            response = self._throttled(request) or await self._answer(request, handler)
            if self.faults.delay:
                # The call is done; only its answer is late (as when it is lost on the way).
                await asyncio.sleep(self.faults.delay)
        finally:
            self.in_flight -= 1
        response.headers["X-Tt-Logid"] = secrets.token_hex(12)
        self._log(request, response, len(await request.read()))
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            path = request.path
            if path.startswith("/open-apis/") and not path.startswith(_AUTH_PATH):
                self.store.check_token(request.headers.get("Authorization"))
            return await handler(request)
        except ApiError as exc:
            return error(exc)

    def _throttled(self, request: web.Request) -> web.Response | None:
        # Token fetches are exempt: a throttled token call makes the SDK raise instead of
        # returning the 429 the gateway is supposed to back off from.
        if request.path.startswith(_AUTH_PATH):
            return None
        if self.faults.throttle_calls > 0:
            self.faults.throttle_calls -= 1
            return self._too_many()
        # "Limits apply per API, per app and per tenant" (server-docs/api-call-guide/
        # frequency-control): each route of the app has its own windows.
        resource = request.match_info.route.resource
        api = f"{request.method} {resource.canonical if resource else request.path}"
        windows = self._windows()
        full = self.store.note_call(api, windows) if windows else None
        if full is not None:
            window, room_in = full
            return self._too_many(window.calls, max(1, math.ceil(room_in)))
        return None

    def _windows(self) -> list[Window]:
        # "1000/min & 50/s: hitting either one triggers the limit" (server-docs/api-call-guide/
        # frequency-control; reference/im-v1/message/create and .../patch). Neither doc says
        # the minute is a clock-aligned bucket, so both are sliding windows: the strict
        # reading, since a client that keeps every 60 s span within 1000 keeps any bucket too.
        limits = [(self.faults.app_qps, 1.0), (self.faults.app_per_minute, 60.0)]
        return [Window(calls, seconds) for calls, seconds in limits if calls is not None]

    def _too_many(self, limit: int = 50, reset: int | None = None) -> web.Response:
        # x-ogw-ratelimit-reset: the seconds to wait before a call can succeed again.
        headers = {
            "x-ogw-ratelimit-limit": str(limit),
            "x-ogw-ratelimit-reset": str(
                reset if reset is not None else self.faults.throttle_reset
            ),
        }
        return error(ApiError(429, RATE_LIMITED, "request trigger frequency limit"), headers)

    def _log(self, request: web.Request, response: web.StreamResponse, size: int) -> None:
        code = None
        if isinstance(response, web.Response) and response.body is not None:
            body = response.body
            if isinstance(body, bytes):
                code = json.loads(body).get("code")
        record = RequestRecord(
            method=request.method,
            path=request.path,
            status=response.status,
            code=code,
            at=self.store.now(),
            connection=_peer_port(request),
            size=size,
        )
        self.requests_log.append(record)

    async def _sized(self, request: web.Request, limit: int) -> None:
        if len(await request.read()) > limit:
            raise ApiError(400, CONTENT_TOO_LONG, f"The request body is over {limit // 1024} KB.")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, FIELD_INVALID, "request body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, FIELD_INVALID, "request body must be an object")
        return body

    def _credentials_error(self, app_id: object, secret: object) -> ApiError | None:
        if app_id != self.app_id:
            return ApiError(200, APP_ID_INVALID, "invalid app_id")
        if secret != self.app_secret:
            return ApiError(200, APP_SECRET_INVALID, "app secret invalid")
        return None

    async def ws_endpoint(self, request: web.Request) -> web.Response:
        """``POST /callback/ws/endpoint``: long-connection URL for valid credentials."""
        if self.hub.closing:
            # a non-200 status is a ServerException: the SDK keeps retrying, as it should
            return web.json_response({"code": 1, "msg": "system busy"}, status=503)
        body = await self._json(request)
        failure = self._credentials_error(body.get("AppID"), body.get("AppSecret"))
        if failure is not None:
            # any code but 0, 1 and 1000040343 makes the SDK raise ClientException, no retry
            return error(failure)
        host = request.host
        return web.json_response(
            {"code": 0, "msg": "ok", "data": self.hub.endpoint(f"ws://{host}")}
        )

    async def token(self, request: web.Request) -> web.Response:
        """``POST /open-apis/auth/v3/tenant_access_token/internal``."""
        body = await self._json(request)
        failure = self._credentials_error(body.get("app_id"), body.get("app_secret"))
        if failure is not None:
            return error(failure)
        token, expire = self.store.issue_token()
        # expire must stay above 600: the SDK caches until expire - 600 s
        return web.json_response(
            {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire}
        )

    async def create_message(self, request: web.Request) -> web.Response:
        """``POST /open-apis/im/v1/messages``: send to a user, honouring ``uuid``.

        A receiver the sandbox does not know answers code 230013 ("Bot has NO
        availability to this user"), the platform's answer for users outside the app's
        availability scope; the platform does not distinguish a non-existent user.
        """
        id_type = request.query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            raise ApiError(400, FIELD_INVALID, f"invalid receive_id_type: {id_type!r}")
        body = await self._json(request)
        user = self.store.find_user(id_type, str(body.get("receive_id", "")))
        if user is None:
            raise ApiError(400, USER_OUT_OF_SCOPE, "Bot has NO availability to this user.")
        msg_type, content = _content(body)
        await self._sized(request, TEXT_BODY_LIMIT if msg_type == "text" else CARD_BODY_LIMIT)
        qps = self.faults.user_qps
        if qps is not None and not self.store.note_send(user.open_id, qps):
            raise ApiError(400, USER_RATE_LIMITED, "This operation triggers the frequency limit.")
        uuid = body.get("uuid") or None
        msg, _ = self.store.create_message(user, msg_type, content, uuid)
        return ok(_message_data(msg, body["content"], self.app_id))

    async def patch_message(self, request: web.Request) -> web.Response:
        """``PATCH /open-apis/im/v1/messages/{message_id}``: replace a shared card."""
        body = await self._json(request)
        _, card = _content({"msg_type": "interactive", "content": body.get("content")})
        await self._sized(request, CARD_BODY_LIMIT)
        current = self.store.message(request.match_info["message_id"])
        if current.msg_type != "interactive" or current.sender != "bot":
            raise ApiError(400, INVALID_PARAM, "only cards sent by the bot can be patched")
        if not (_is_shared(current.content) and _is_shared(card)):
            raise ApiError(400, CARD_CONTENT_ERROR, "both cards must set config.update_multi=true")
        self.store.check_patchable(current.message_id, self.faults.message_qps)
        self.store.update_card(current.message_id, card, "patch")
        return ok({})

    async def delayed_update(self, request: web.Request) -> web.Response:
        """``POST /open-apis/interactive/v1/card/update`` with a click's callback token."""
        body = await self._json(request)
        card = body.get("card")
        if not isinstance(card, dict):
            raise ApiError(400, INVALID_PARAM, "card must be an object")
        check_pickers(card)
        # "卡片大小需控制在 30KB 以内" (open.larkoffice.com, delayed update); the Lark
        # international page says 100 KB after conversion: the stricter one, on the body sent.
        await self._sized(request, CARD_BODY_LIMIT)
        message_id = self.store.use_card_token(str(body.get("token", "")))
        self.store.update_card(message_id, card, "delayed_update")
        return web.json_response({"code": 0, "msg": "success"})

    async def batch_get_id(self, request: web.Request) -> web.Response:
        """``POST /open-apis/contact/v3/users/batch_get_id``: find users by email/mobile."""
        id_type = request.query.get("user_id_type", "open_id")
        if id_type not in USER_ID_TYPES:
            raise ApiError(400, FIELD_INVALID, f"invalid user_id_type: {id_type!r}")
        body = await self._json(request)
        emails, mobiles = body.get("emails") or [], body.get("mobiles") or []
        if len(emails) > LOOKUP_LIMIT or len(mobiles) > LOOKUP_LIMIT:
            raise ApiError(400, FIELD_INVALID, "at most 50 emails and 50 mobiles")
        found = [self._lookup("email", e, id_type) for e in emails]
        found += [self._lookup("mobile", m, id_type) for m in mobiles]
        return ok({"user_list": found})

    def _lookup(self, field: str, value: str, id_type: str) -> dict[str, Any]:
        user = self.store.find_user(field, value)
        if user is None:
            return {field: value}  # unknown and out-of-scope users look the same
        return {"user_id": getattr(user, id_type), field: value, "status": _ACTIVE}


_ACTIVE = {
    "is_frozen": False,
    "is_resigned": False,
    "is_activated": True,
    "is_exited": False,
    "is_unjoin": False,
}


def _content(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate ``msg_type`` and the JSON-string ``content``; return the parsed content."""
    msg_type, raw = body.get("msg_type"), body.get("content")
    if msg_type not in ("interactive", "text"):
        raise ApiError(400, INVALID_PARAM, f"msg_type {msg_type!r} is not supported by the sandbox")
    if not isinstance(raw, str):
        raise ApiError(400, INVALID_PARAM, "content must be a JSON string")
    try:
        content = json.loads(raw)
    except ValueError:
        raise ApiError(400, INVALID_PARAM, "content is not valid JSON") from None
    if not isinstance(content, dict) or (msg_type == "text" and "text" not in content):
        raise ApiError(400, INVALID_PARAM, "invalid message content")
    if msg_type == "interactive":
        check_pickers(content)
    return msg_type, content


def _is_shared(card: dict[str, Any]) -> bool:
    """Whether a card may be patched: JSON 2.0 cards always, 1.0 only with update_multi."""
    if card.get("schema") == "2.0" or card.get("type") == "template":
        return True
    return bool(card.get("config", {}).get("update_multi"))


def _message_data(msg: SandboxMessage, content: str, app_id: str) -> dict[str, Any]:
    millis = str(int(msg.versions[0].at * 1000))
    return {
        "message_id": msg.message_id,
        "msg_type": msg.msg_type,
        "create_time": millis,
        "update_time": millis,
        "chat_id": msg.chat_id,
        "deleted": False,
        "updated": False,
        "sender": {"id": app_id, "id_type": "app_id", "sender_type": "app"},
        "body": {"content": content},
        "mentions": [],
    }


def _peer_port(request: web.Request) -> int | None:
    # The client's port tells its connections apart: a client that reuses its connections
    # shows few ports for many calls.
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return int(peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None
