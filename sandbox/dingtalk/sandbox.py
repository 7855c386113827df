"""A sandbox DingTalk open platform on loopback, speaking the real wire protocols.

The real ``dingtalk_stream`` SDK connects to it unchanged except for the endpoint:
open-connection with single-use tickets, the ``/connect`` JSON frame protocol with
ACKs (EVENT frames pushed again until ACKed, CALLBACK frames once, answered within 3 s
or failed: see :mod:`sandbox.dingtalk.ws`), tokens, the card platform, robot messages, sessionWebhooks and
the oapi user lookups. Tests, the demo and support staff drive the user side through
:class:`DingTalkSandbox` (clicks, chat messages, faults) and read what users received.

Each sandbox owns a thread and loop (:class:`ThreadedServer`), because the SDK makes
blocking ``requests`` calls from its own loop. Nothing is module-global, so two
sandboxes (say DingTalk and DingTalk Enterprise apps) run side by side.

Layout: ``ws`` (stream gateway), ``api`` (HTTP routes),
``cards`` (card instances), ``state`` (directory, tokens, inboxes),
``models`` (snapshots handed out). This module is the facade over them.

Over 400 lines on purpose: every knob the tests, the demo and the benchmark turn (users, taps, faults,
limits, logs) is one short method of :class:`DingTalkSandbox`, and splitting the facade would
only scatter them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import WSCloseCode, web

from sandbox.dingtalk.api import OpenApi
from sandbox.dingtalk.cards import CardBook
from sandbox.dingtalk.ding import Ding
from sandbox.dingtalk.models import (
    AckFrame,
    ApiError,
    ClickResult,
    SandboxCard,
    SandboxError,
    SandboxMessage,
    SandboxUser,
    Usage,
)
from sandbox.dingtalk.state import PLATFORM_QPS, SESSION_TTL, SandboxState
from sandbox.dingtalk.ws import StreamHub
from sandbox.server import ThreadedServer

__all__ = [
    "AckFrame",
    "ClickResult",
    "DingTalkSandbox",
    "SandboxCard",
    "SandboxError",
    "SandboxMessage",
    "SandboxUser",
    "Usage",
    "point_sdk_at",
    "sdk_sleeps_scaled",
]

CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"
CHATBOT_TOPIC = "/v1.0/im/bot/messages/get"
# What the sandbox phone shows for a card callback that was not answered in time (the real
# client shows a failure toast of its own wording).
CALLBACK_FAILED = "The operation failed, please try again later. 操作失败，请稍后重试。"
T = TypeVar("T")


class DingTalkSandbox:
    """One DingTalk app (AppKey/AppSecret, robot, org) served on 127.0.0.1."""

    def __init__(
        self,
        *,
        client_id: str = "ding_sandbox",
        client_secret: str = "sandbox-secret",
        robot_code: str = "ding_sandbox",
        corp_id: str = "dingcorp_sandbox",
        ack_timeout: float = 5.0,
        disconnect_grace: float = 1.0,
    ) -> None:
        self.client_id = client_id
        self.robot_code = robot_code
        self.corp_id = corp_id
        self._state = SandboxState(
            client_id=client_id, client_secret=client_secret, corp_id=corp_id
        )
        self._cards = CardBook(robot_code, lambda user_id: self._state.user(user_id) is not None)
        self._hub = StreamHub(
            app_id=str(uuid.uuid4()), ack_timeout=ack_timeout, disconnect_grace=disconnect_grace
        )
        self._api = OpenApi(
            self._state,
            self._cards,
            self._hub,
            robot_code=robot_code,
            base_url=lambda: self.base_url,
        )
        self._server = ThreadedServer(self._app())

    def _app(self) -> web.Application:
        app = web.Application()
        app.add_routes(self._api.routes())

        async def close_streams(_: web.Application) -> None:
            await self._hub.close_all()

        # Open websockets would otherwise hold the runner's shutdown for its full timeout.
        app.on_shutdown.append(close_streams)
        return app

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start serving on a free port (blocking until bound)."""
        self._server.start()

    def stop(self) -> None:
        """Close client connections and stop the server thread."""
        self._server.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the value for ``DINGTALK_OPENAPI_ENDPOINT``."""
        return self._server.base_url

    # -- directory and what users received ---------------------------------------------
    def add_user(
        self, user_id: str, *, name: str, mobile: str | None = None, union_id: str | None = None
    ) -> SandboxUser:
        """Add a member of the sandbox org."""
        user = SandboxUser(user_id, name, mobile, union_id or f"union_{user_id}")
        self._state.add_user(user)
        return user

    def cards(self, user_id: str) -> list[SandboxCard]:
        """Cards delivered to the user's robot chat, as that user sees them."""
        return self._cards.cards_of(user_id)

    def card(self, user_id: str, out_track_id: str) -> SandboxCard:
        """One card as the user sees it; ``KeyError`` if no such card exists."""
        return self._cards.card(out_track_id, user_id)

    @property
    def paid_plan(self) -> bool:
        """Whether the organisation has the paid plan that unlocks DING by SMS and phone."""
        return self._api.ding.paid_plan

    @paid_plan.setter
    def paid_plan(self, value: bool) -> None:
        self._api.ding.paid_plan = value

    @property
    def dings(self) -> list[Ding]:
        """The DINGs sent (``robot/ding/send``), oldest first."""
        return list(self._api.ding.sent)

    def messages(self, user_id: str) -> list[SandboxMessage]:
        """Robot 1:1 messages and sessionWebhook replies the user received."""
        return self._state.messages(user_id)

    def usage(self, user_id: str) -> Usage:
        """Cards delivered, card updates and messages for the user so far."""
        return self._state.usage(user_id)

    # -- stream ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Whether a stream client is connected."""
        return self._hub.connected

    @property
    def connections_opened(self) -> int:
        """How many ``/connect`` websockets were accepted so far."""
        return self._hub.connections_opened

    @property
    def acks_dropped(self) -> int:
        """ACKs thrown away while :meth:`hold_acks` was on."""
        return self._hub.acks_dropped

    async def wait_connected(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until a stream client is connected."""
        await self._call(self._hub.wait_for(lambda: self._hub.connected, timeout))

    async def wait_connections(self, count: int, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until ``count`` connections were accepted in total and one is open."""
        hub = self._hub
        await self._call(
            hub.wait_for(lambda: hub.connections_opened >= count and hub.connected, timeout)
        )

    async def ping(self, opaque: str | None = None, *, timeout: float = 5) -> AckFrame:  # noqa: ASYNC109
        """SYSTEM ping; the ACK must echo ``opaque``."""
        opaque = opaque or uuid.uuid4().hex
        pushed = await self._call(
            self._hub.push("SYSTEM", "ping", {"opaque": opaque}, limit=timeout)
        )
        assert pushed.ack is not None  # SYSTEM pushes raise instead
        echoed = pushed.ack.decoded()
        if not isinstance(echoed, dict) or echoed.get("opaque") != opaque:
            raise SandboxError(f"ping ACK did not echo opaque {opaque!r}: {pushed.ack.data!r}")
        return pushed.ack

    async def click(
        self,
        user_id: str,
        out_track_id: str,
        params: dict[str, str],
        *,
        action_id: str = "action_button",
        timeout: float = 5,  # noqa: ASYNC109
    ) -> ClickResult:
        """Click a card button as ``user_id``; the handler's ACK response is applied."""
        return await self._call(self._click(user_id, out_track_id, params, action_id, timeout))

    async def send_text(self, user_id: str, text: str, *, timeout: float = 5) -> None:  # noqa: ASYNC109
        """The user writes ``text`` to the robot 1:1; returns once the client ACKed."""
        await self._call(self._send_text(user_id, text, timeout))

    async def push_event(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> AckFrame:
        """Push an EVENT frame (e.g. ``user_add_org``); pushed again until ACKed."""
        return await self._call(self._push_event(event_type, data, timeout))

    @property
    def callbacks_failed(self) -> int:
        """CALLBACK frames (clicks, messages) the client did not answer within 3 s."""
        return self._hub.callbacks_failed

    async def disconnect(self) -> None:
        """SYSTEM disconnect; the socket is force-closed if the client lingers."""
        await self._call(self._hub.disconnect())

    async def kill(self, code: int = WSCloseCode.INTERNAL_ERROR) -> None:
        """Close the stream abnormally (1011 by default), as a gateway crash would."""
        await self._call(self._hub.kill(code))

    # -- faults ------------------------------------------------------------------------
    @property
    def calls_log(self) -> list[tuple[str, str, int, float]]:
        """Every v1.0 business call answered so far: (method, path, status, wall time)."""
        return list(self._api.calls_log)

    def throttle(self, calls: int) -> None:
        """The next ``calls`` business API calls fail with 403 QPS limit (oapi: 90018)."""
        self._state.throttle(calls)

    def limit_qps(self, qps: int | None = PLATFORM_QPS) -> None:
        """Set the per-app, per-API calls per second (403 QPS limit; topapi 90018); None: off.
        On by default at a standard-edition org's 20 per API, as the platform is: a test that
        needs no limit says so."""
        self._state.limit_qps(qps)

    @property
    def qps_refused(self) -> int:
        """Business calls refused by :meth:`limit_qps` so far."""
        return self._state.qps_refused

    def revoke_token(self) -> None:
        """Invalidate the current access token now, as a rotation does: calls with it get
        ``400 InvalidAuthentication`` (topapi: 88/40014) until the client fetches a new one."""
        self._state.revoke_token()

    @property
    def tokens_issued(self) -> int:
        """Distinct access tokens minted so far (fetching a still-valid one renews it)."""
        return self._state.tokens_issued

    @property
    def token_fetches(self) -> int:
        """Token calls (``/v1.0/oauth2/accessToken``, ``/gettoken``) that returned a token."""
        return self._state.token_fetches

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock: tokens lapse after 7200 s, rate windows and sessions pass."""
        self._state.advance(seconds)

    def freeze_clock(self) -> None:
        """Let the sandbox's time move only by :meth:`advance_clock`."""
        self._state.freeze()

    def set_client_secret(self, secret: str) -> None:
        """Rotate the AppSecret: clients still using the old one are refused."""
        self._state.set_client_secret(secret)

    def hold_acks(self, on: bool) -> None:
        """While on, ACKs from the client are lost on the way (only EVENT frames come again)."""
        self._hub.hold_acks = on

    # -- on the sandbox loop -----------------------------------------------------------
    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return await self._server.call(coro)

    async def _click(
        self,
        user_id: str,
        out_track_id: str,
        params: dict[str, str],
        action_id: str,
        limit: float,
    ) -> ClickResult:
        if not self._cards.holds(out_track_id, user_id):
            raise SandboxError(f"{user_id} holds no card {out_track_id}")
        if self._cards.card(out_track_id, user_id).callback_type != "STREAM":
            raise SandboxError(f"card {out_track_id} does not call back over the stream")
        payload = self._click_payload(user_id, out_track_id, params, action_id)
        pushed = await self._hub.push("CALLBACK", CARD_CALLBACK_TOPIC, payload, limit=limit)
        if pushed.ack is None:
            card = self._cards.card(out_track_id, user_id)  # untouched: the answer never counted
            return ClickResult(
                {}, card, None, len(pushed.connection_ids), CALLBACK_FAILED, pushed.connection_ids
            )
        response = _callback_response(pushed.ack)
        try:
            self._cards.apply_callback_response(out_track_id, user_id, response)
        except ApiError as exc:
            raise SandboxError(f"the client's card update was rejected: {exc}") from exc
        card = self._cards.card(out_track_id, user_id)
        sent = pushed.connection_ids
        return ClickResult(response, card, pushed.ack, len(sent), connection_ids=sent)

    def _click_payload(
        self, user_id: str, out_track_id: str, params: dict[str, str], action_id: str
    ) -> dict[str, Any]:
        content = json.dumps({"cardPrivateData": {"actionIds": [action_id], "params": params}})
        return {
            "type": "actionCallback",
            "corpId": self.corp_id,
            "userId": user_id,
            "userIdType": 1,
            "outTrackId": out_track_id,
            "spaceType": "",  # the real payloads seen leave both empty
            "spaceId": "",
            "extension": "{}",
            "content": content,
        }

    async def _send_text(self, user_id: str, text: str, limit: float) -> None:
        user = self._state.user(user_id)
        if user is None:
            raise SandboxError(f"unknown user {user_id}")
        payload = self._chat_payload(user, text)
        # Robot messages are CALLBACK frames: pushed once, never again.
        pushed = await self._hub.push("CALLBACK", CHATBOT_TOPIC, payload, limit=limit)
        if pushed.ack is None:
            raise SandboxError(f"robot message to the client not ACKed within 3 s: {text!r}")

    async def _push_event(self, event_type: str, data: dict[str, Any], limit: float) -> AckFrame:
        headers = {
            "eventType": event_type,
            "eventId": uuid.uuid4().hex,
            "eventCorpId": self.corp_id,
            "eventBornTime": str(int(time.time() * 1000)),
        }
        pushed = await self._hub.push("EVENT", "*", data, limit=limit, headers=headers)
        assert pushed.ack is not None  # EVENT pushes raise instead
        return pushed.ack

    def _chat_payload(self, user: SandboxUser, text: str) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return {
            "conversationId": f"cid_{user.user_id}",
            "conversationType": "1",
            "msgId": f"msg{uuid.uuid4().hex}",
            "msgtype": "text",
            "text": {"content": text},
            "senderId": f"$:LWCP_v1:${user.union_id}",
            "senderNick": user.name,
            "senderStaffId": user.user_id,
            "senderCorpId": self.corp_id,
            "chatbotUserId": f"$:LWCP_v1:${self.robot_code}",
            "chatbotCorpId": self.corp_id,
            "robotCode": self.robot_code,
            "isAdmin": False,
            "isInAtList": True,
            "sessionWebhook": self._api.session_webhook(user.user_id),
            "sessionWebhookExpiredTime": now_ms + int(SESSION_TTL * 1000),
            "createAt": now_ms,
        }


def _callback_response(ack: AckFrame) -> dict[str, Any]:
    # CallbackHandler ACKs carry data = json.dumps({"response": <2nd return value>}).
    if ack.code != 200:
        return {}
    decoded = ack.decoded()
    response = decoded.get("response") if isinstance(decoded, dict) else None
    return response if isinstance(response, dict) else {}


def point_sdk_at(base_url: str) -> None:
    """Redirect the already-imported ``dingtalk_stream`` SDK to ``base_url``, process-wide.

    The SDK reads ``DINGTALK_OPENAPI_ENDPOINT`` once at import and copies it into four
    names; all four must change. This is one endpoint for every client in the process.
    A per-client endpoint needs a subclass overriding ``open_connection`` (and
    ``get_access_token`` if the SDK's token helper is used): 0.24.3 reads
    ``DingTalkStreamClient.OPEN_CONNECTION_API`` through the class name, so setting the
    attribute on a subclass or an instance has no effect.
    """
    import dingtalk_stream.card_replier as card_replier
    import dingtalk_stream.chatbot as chatbot
    import dingtalk_stream.stream as stream

    stream.DingTalkStreamClient.OPEN_CONNECTION_API = base_url + "/v1.0/gateway/connections/open"
    stream.DINGTALK_OPENAPI_ENDPOINT = base_url
    card_replier.DINGTALK_OPENAPI_ENDPOINT = base_url
    chatbot.DINGTALK_OPENAPI_ENDPOINT = base_url


class _ScaledAsyncio:
    """``asyncio`` as seen by ``dingtalk_stream.stream``, with every sleep shortened."""

    def __init__(self, factor: float) -> None:
        self._factor = factor

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(delay * self._factor, result)


@contextmanager
def sdk_sleeps_scaled(factor: float = 0.01) -> Iterator[None]:
    """Shorten the SDK's hard-coded reconnect sleeps (10 s, 3 s) and keepalive (60 s).

    ``DingTalkStreamClient.start`` calls ``asyncio.sleep(10)`` after an abnormal close;
    only the ``asyncio`` name inside ``dingtalk_stream.stream`` is swapped, so nothing
    else in the process is affected. Affects every SDK client while active.
    """
    import dingtalk_stream.stream as stream

    original = stream.asyncio
    stream.asyncio = _ScaledAsyncio(factor)
    try:
        yield
    finally:
        stream.asyncio = original
