"""HTTP side of the sandbox: the v1.0 OpenAPI, the oapi routes and sessionWebhooks.

``api.dingtalk.com`` and ``oapi.dingtalk.com`` are one host here. Business calls pass two
gates in the real order: the per-API QPS limiter (on by default at the platform's 20/s; v1.0:
403 ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi``, topapi: errcode 90018, both safe to
retry) and then the access-token check. A missing, unknown, revoked or lapsed token gets what
the platform answers: ``400 InvalidAuthentication`` on v1.0, errcode 88 with sub_code 40014 on
topapi (open.dingtalk.com "错误码" / API error codes page; notes: dingtalk.md "DING, card
redraws and tokens").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.dingtalk.cards import CardBook
from sandbox.dingtalk.ding import DingSend
from sandbox.dingtalk.models import ApiError
from sandbox.dingtalk.state import SandboxState
from sandbox.dingtalk.ws import StreamHub

JsonHandler = Callable[[dict[str, Any]], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QPS_LIMIT = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
BATCH_SEND_LIMIT = 20
BAD_TOKEN = "不合法的access_token"
# topapi wraps the gateway's 40014 in its errcode 88 envelope (API error codes page).
OAPI_BAD_TOKEN = {
    "errcode": 88,
    "errmsg": f"ding talk error[subcode=40014,submsg={BAD_TOKEN}]",
    "sub_code": "40014",
    "sub_msg": BAD_TOKEN,
}
OAPI_QPS_LIMIT = {"errcode": 90018, "errmsg": "当前企业调用该接口的QPS超过限制"}
OAPI_NO_USER = {"errcode": 60121, "errmsg": "找不到该用户"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "InvalidParameter", "body is not JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "body must be a JSON object")
    return body


def _bad_token() -> ApiError:
    # api.dingtalk.com answers a bad or lapsed token with 400, not 401 (API error codes page).
    return ApiError(400, "InvalidAuthentication", BAD_TOKEN)


class OpenApi:
    """Route handlers for one sandbox app."""

    def __init__(
        self,
        state: SandboxState,
        cards: CardBook,
        hub: StreamHub,
        *,
        robot_code: str,
        base_url: Callable[[], str],
    ) -> None:
        self._state = state
        self._cards = cards
        self._hub = hub
        self._robot_code = robot_code
        self._base_url = base_url
        self.ding = DingSend(state, robot_code)  # POST /v1.0/robot/ding/send
        # every business call answered: (method, path, HTTP status, when), for rate checks
        self.calls_log: list[tuple[str, str, int, float]] = []

    def routes(self) -> list[web.RouteDef]:
        """Every HTTP route the sandbox serves, ``/connect`` included."""
        return [
            web.post("/v1.0/gateway/connections/open", self._plain(self._open_connection)),
            web.get("/connect", self._hub.handle_connect),
            web.post("/v1.0/oauth2/accessToken", self._limited(self._access_token)),
            web.get("/gettoken", self._gettoken),
            web.post("/v1.0/card/instances", self._v1(self._create_card)),
            web.put("/v1.0/card/instances", self._v1(self._update_card)),
            web.post("/v1.0/card/instances/deliver", self._v1(self._deliver_card)),
            web.post("/v1.0/card/instances/createAndDeliver", self._v1(self._create_and_deliver)),
            web.post("/v1.0/robot/oToMessages/batchSend", self._v1(self._batch_send)),
            web.post("/v1.0/robot/ding/send", self._v1(self.ding.send)),
            web.post("/robot/sendBySession", self._session_reply),
            web.post("/topapi/v2/user/getbymobile", self._oapi(self._user_by_mobile)),
            web.post("/topapi/v2/user/get", self._oapi(self._user_get)),
            # Last, so it only catches what nothing above serves.
            web.route("*", "/v1.0/{tail:.*}", self._not_implemented),
        ]

    def session_webhook(self, user_id: str) -> str:
        """A fresh sessionWebhook URL replying into ``user_id``'s robot chat."""
        return f"{self._base_url()}/robot/sendBySession?session={self._state.open_session(user_id)}"

    # -- wrappers ----------------------------------------------------------------------
    def _plain(self, handler: JsonHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return web.json_response(handler(await _json_body(request)))
            except ApiError as exc:
                return exc.response(uuid.uuid4().hex)

        return wrapped

    def _v1(self, handler: JsonHandler) -> Handler:
        async def answer(request: web.Request) -> web.StreamResponse:
            try:
                if self._state.take_throttle() or not self._state.note_call(request.path):
                    raise ApiError(403, QPS_LIMIT, "app QPS limit reached for this API")
                token = request.headers.get("x-acs-dingtalk-access-token")
                if not self._state.token_ok(token):
                    raise _bad_token()
                return web.json_response(handler(await _json_body(request)))
            except ApiError as exc:
                return exc.response(uuid.uuid4().hex)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            response = await answer(request)
            self.calls_log.append((request.method, request.path, response.status, time.time()))
            return response

        return wrapped

    def _oapi(self, handler: JsonHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            # oapi errors travel as HTTP 200 with a non-zero errcode.
            if self._state.take_throttle() or not self._state.note_call(request.path):
                return web.json_response(OAPI_QPS_LIMIT)
            if not self._state.token_ok(request.query.get("access_token")):
                return web.json_response({**OAPI_BAD_TOKEN, "request_id": uuid.uuid4().hex})
            try:
                body = await _json_body(request)
            except ApiError as exc:
                return web.json_response({"errcode": 40035, "errmsg": exc.message})
            return web.json_response(handler(body))

        return wrapped

    async def _not_implemented(self, request: web.Request) -> web.StreamResponse:
        error = ApiError(404, "NotImplemented", f"the sandbox does not serve {request.path}")
        if not self._state.token_ok(request.headers.get("x-acs-dingtalk-access-token")):
            error = _bad_token()
        return error.response(uuid.uuid4().hex)

    # -- stream registration and tokens ------------------------------------------------
    def _open_connection(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._state.credentials_ok(body.get("clientId"), body.get("clientSecret")):
            raise ApiError(401, "invalidClientIdOrSecret", "clientId or clientSecret is wrong")
        subscriptions = [
            (str(s.get("type")), str(s.get("topic")))
            for s in body.get("subscriptions") or []
            if isinstance(s, dict)
        ]
        endpoint = self._base_url().replace("http://", "ws://", 1) + "/connect"
        return {"endpoint": endpoint, "ticket": self._hub.issue_ticket(subscriptions)}

    def _limited(self, handler: JsonHandler) -> Handler:
        # The token call is a server API like any other: "不能频繁调用" (obtain-orgapp-token),
        # under the same per-API QPS (invocation-frequency-limit).
        plain = self._plain(handler)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not self._state.note_call(request.path):
                error = ApiError(403, QPS_LIMIT, "app QPS limit reached for this API")
                return error.response(uuid.uuid4().hex)
            return await plain(request)

        return wrapped

    def _access_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._state.credentials_ok(body.get("appKey"), body.get("appSecret")):
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token, expire_in = self._state.issue_token()
        return {"accessToken": token, "expireIn": expire_in}

    async def _gettoken(self, request: web.Request) -> web.StreamResponse:
        # The older ``GET oapi.dingtalk.com/gettoken?appkey&appsecret``: the same token, its
        # lifetime as ``expires_in`` and errors in the errcode envelope (obtain-orgapp-token).
        if not self._state.note_call(request.path):
            return web.json_response(OAPI_QPS_LIMIT)
        query = request.query
        if not self._state.credentials_ok(query.get("appkey"), query.get("appsecret")):
            return web.json_response({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
        token, expire_in = self._state.issue_token()
        answer = {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expire_in}
        return web.json_response(answer)

    # -- cards -------------------------------------------------------------------------
    def _create_card(self, body: dict[str, Any]) -> dict[str, Any]:
        out_track_id, _ = self._cards.create(body)
        return {"success": True, "result": out_track_id}

    def _deliver_card(self, body: dict[str, Any]) -> dict[str, Any]:
        results, reached = self._cards.deliver(body)
        self._state.count_cards(reached, created=1)
        return {"success": True, "result": results}

    def _create_and_deliver(self, body: dict[str, Any]) -> dict[str, Any]:
        # Check the delivery before creating, so a rejected call leaves no orphan card.
        self._cards.check_delivery(body)
        out_track_id, _ = self._cards.create(body)
        results, reached = self._cards.deliver(body)
        self._state.count_cards(reached, created=1)
        return {"success": True, "result": {"outTrackId": out_track_id, "deliverResults": results}}

    def _update_card(self, body: dict[str, Any]) -> dict[str, Any]:
        holders = self._cards.update(body)
        self._state.count_cards(holders, updated=1)
        return {"success": True, "result": True}

    # -- robot messages ----------------------------------------------------------------
    def _batch_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("robotCode") != self._robot_code:
            raise ApiError(
                400, "param.robotCodeInvalid", f"unknown robotCode {body.get('robotCode')}"
            )
        user_ids = body.get("userIds")
        if not isinstance(user_ids, list) or not 0 < len(user_ids) <= BATCH_SEND_LIMIT:
            raise ApiError(400, "InvalidParameter.userIds", "userIds must hold 1 to 20 users")
        msg_key, params = str(body.get("msgKey") or ""), self._msg_param(body.get("msgParam"))
        invalid = [u for u in user_ids if self._state.user(str(u)) is None]
        for user_id in user_ids:
            if user_id not in invalid:
                self._state.record_message(str(user_id), "robot", msg_key, params)
        return {
            "processQueryKey": uuid.uuid4().hex,
            "invalidStaffIdList": invalid,
            "flowControlledStaffIdList": [],
            "filteredStaffIdList": [],
        }

    @staticmethod
    def _msg_param(raw: object) -> dict[str, Any]:
        try:
            params = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise ApiError(
                400, "InvalidParameter.msgParam", "msgParam must be a JSON object string"
            )
        return params

    async def _session_reply(self, request: web.Request) -> web.StreamResponse:
        user_id = self._state.session_user(request.query.get("session", ""))
        if user_id is None:
            return web.json_response({"errcode": 300001, "errmsg": "session 不存在或已过期"})
        try:
            body = await _json_body(request)
        except ApiError as exc:
            return web.json_response({"errcode": 40035, "errmsg": exc.message})
        msgtype = str(body.get("msgtype", ""))
        content = body.get(msgtype)
        self._state.record_message(
            user_id, "session_reply", msgtype, content if isinstance(content, dict) else {}
        )
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    # -- directory (oapi) --------------------------------------------------------------
    def _user_by_mobile(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._state.user_by_mobile(str(body.get("mobile", "")))
        if user is None:
            return OAPI_NO_USER
        result = {"userid": user.user_id, "exclusive_account_userid_list": []}
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": uuid.uuid4().hex}

    def _user_get(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._state.user(str(body.get("userid", "")))
        if user is None:
            return OAPI_NO_USER
        result = {
            "userid": user.user_id,
            "unionid": user.union_id,
            "name": user.name,
            "mobile": user.mobile or "",
            "active": True,
        }
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": uuid.uuid4().hex}
