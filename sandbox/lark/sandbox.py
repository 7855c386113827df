"""A sandbox Lark/Feishu open platform on loopback.

It speaks the platform's real wire protocols - OpenAPI JSON envelopes, long-connection
endpoint discovery and the protobuf frame socket, encrypted and signed HTTP callbacks -
so the unmodified ``lark_oapi`` SDK talks to it once given ``base_url`` as its domain:

    sandbox = LarkSandbox(); sandbox.start()
    client = lark.Client.builder().app_id(sandbox.app_id).app_secret(sandbox.app_secret)
                 .domain(sandbox.base_url).build()
    ws = lark.ws.Client(sandbox.app_id, sandbox.app_secret, event_handler=...,
                        domain=sandbox.base_url)   # start() it on its own thread and loop

The platform runs on a private thread (``ThreadedServer``) because the SDK makes blocking
HTTP calls; the async methods below may be awaited from any other event loop. Their
``timeout`` parameters (ASYNC109 silenced on purpose) bound the wait on the sandbox loop,
where running out ends in a DeliveryError naming the unacknowledged event - a caller-side
``asyncio.timeout`` could only cancel.

Over 400 lines on purpose, as the DingTalk sandbox's facade: every knob the tests, the demo and
the benchmark turn (users, taps, person picks, faults, limits, logs) is one short method of
:class:`LarkSandbox` over the modules that hold the platform's parts.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from sandbox.lark.frames import card_action_event, encrypt, message_receive_event, sign
from sandbox.lark.models import (
    ClickResult,
    DeliveryInfo,
    RequestRecord,
    SandboxMessage,
    SandboxUser,
    Usage,
)
from sandbox.lark.openapi import OpenApi
from sandbox.lark.pickers import NotOffered, callback_value, find_picker, offered
from sandbox.lark.state import LarkStore
from sandbox.lark.urgent import LarkUrgent
from sandbox.lark.ws import DeliveryError, WsHub
from sandbox.server import ThreadedServer

__all__ = [
    "ClickResult",
    "DeliveryError",
    "DeliveryInfo",
    "LarkSandbox",
    "RequestRecord",
    "SandboxMessage",
    "SandboxUser",
    "Usage",
]

T = TypeVar("T")
# What the sandbox client shows when a card callback was not answered in time (the real
# client shows an error toast of its own wording).
CALLBACK_FAILED = {
    "type": "error",
    "content": "The card did not respond in time, please try again. 卡片响应超时，请稍后重试。",
}


class LarkSandbox:
    """One Lark app with its tenant, served on 127.0.0.1 from a private thread."""

    def __init__(
        self,
        *,
        app_id: str = "cli_sandbox",
        app_secret: str = "sandbox-secret",
        ping_interval: int = 120,
        ack_timeout: float = 5.0,
        verification_token: str = "",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.verification_token = verification_token  # put in header.token of events
        self.store = LarkStore()
        self._hub = WsHub(ping_interval=ping_interval, ack_timeout=ack_timeout)
        self._hub.on_answered = self.store.callback_answered
        self._api = OpenApi(app_id=app_id, app_secret=app_secret, store=self.store, hub=self._hub)
        app = web.Application()
        self._api.install(app)
        self.urgent = LarkUrgent(self.store)  # urgent_app / urgent_sms / urgent_phone
        self.urgent.install(app)
        app.on_shutdown.append(self._hub.close)
        self._server = ThreadedServer(app)
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Bind a free port and serve; returns once ``base_url`` is usable."""
        self._server.start()
        self._running = True

    def stop(self) -> None:
        """Close every long connection, stop serving and join the thread (idempotent)."""
        if not self._running:
            return
        self._running = False
        # The hub closes the sockets from aiohttp's on_shutdown, which runs after the
        # listener is closed: a client that reconnects at once is refused instead of
        # being accepted by a loop about to stop (the SDK's endpoint POST has no
        # timeout and would hang forever).
        self._server.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``domain`` for ``lark.Client`` and ``lark.ws.Client``."""
        return self._server.base_url

    def _call(self, coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        return self._server.call(coro)

    # -- tenant --------------------------------------------------------------------------

    def add_user(
        self,
        open_id: str,
        *,
        name: str,
        user_id: str | None = None,
        union_id: str | None = None,
        email: str | None = None,
        mobile: str | None = None,
    ) -> SandboxUser:
        """Put a user in the app's availability scope; missing IDs are derived from open_id."""
        bare = open_id.removeprefix("ou_")
        user = SandboxUser(
            open_id=open_id,
            name=name,
            user_id=user_id or f"u_{bare}",
            union_id=union_id or f"on_{bare}",
            email=email,
            mobile=mobile,
        )
        self.store.add_user(user)
        return user

    def messages(self, open_id: str) -> list[SandboxMessage]:
        """Everything in the user's chat with the bot (cards, texts, what the user wrote)."""
        return self.store.messages(open_id)

    def cards(self, open_id: str) -> list[SandboxMessage]:
        """The interactive messages the user holds, each with its current card and history."""
        return [m for m in self.store.messages(open_id) if m.msg_type == "interactive"]

    def usage(self, open_id: str) -> Usage:
        """Messages created and cards updated for this user (for usage metering)."""
        return self.store.usage(open_id)

    @property
    def requests_log(self) -> list[RequestRecord]:
        """Every OpenAPI request answered so far, in order."""
        return list(self._api.requests_log)

    @property
    def calls_in_flight(self) -> int:
        """OpenAPI calls received and not yet answered (see :meth:`slow`)."""
        return self._api.in_flight

    def advance_clock(self, seconds: float) -> None:
        """Age tokens, messages, uuid windows and callback tokens without sleeping."""
        self.store.advance(seconds)

    def revoke_tokens(self) -> None:
        """Invalidate every tenant token issued so far: the next call with one gets 99991663."""
        self.store.revoke_tokens()

    @property
    def tokens_issued(self) -> int:
        """Distinct tenant tokens the auth endpoint has handed out."""
        return self.store.tokens_issued

    def freeze_clock(self) -> None:
        """Let the sandbox's time move only by :meth:`advance_clock` (rate windows to the call)."""
        self.store.freeze()

    # -- faults --------------------------------------------------------------------------

    def throttle(self, calls: int, reset_seconds: int = 1) -> None:
        """Answer the next ``calls`` OpenAPI calls with 429 / 99991400 (token fetches exempt)."""
        self._api.faults.throttle_reset = reset_seconds
        self._api.faults.throttle_calls = calls

    def slow(self, seconds: float) -> None:
        """Delay every OpenAPI answer by ``seconds``, after the call took effect (0: off)."""
        self._api.faults.delay = seconds

    def limit_user_qps(self, qps: int | None = 5) -> None:
        """The platform's per-receiver send limit (code 230020), 5/s and on by default; None
        turns it off."""
        self._api.faults.user_qps = qps

    def limit_message_qps(self, qps: int | None = 5) -> None:
        """The platform's limit of updates of one message (code 230020), 5/s and on by
        default; None turns it off."""
        self._api.faults.message_qps = qps

    def limit_app_qps(self, qps: int | None = 50, per_minute: int | None = 1000) -> None:
        """Per-API, per-app limits of calls a second and a minute, both sliding windows
        (429 / 99991400 with ``x-ogw-ratelimit-reset``); the platform's standard tier is
        "1000/min & 50/s", on by default. None turns one off."""
        self._api.faults.app_qps = qps
        self._api.faults.app_per_minute = per_minute

    def hold_acks(self, on: bool) -> None:
        """While on, ACK frames are dropped as if lost, so the event gets redelivered."""
        self._hub.hold_acks = on

    # -- long connection -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a ``lark.ws.Client`` holds an open socket."""
        return self._hub.connected

    @property
    def connections_opened(self) -> int:
        """Sockets accepted so far; grows by one per reconnect."""
        return self._hub.connections_opened

    @property
    def pings(self) -> int:
        """Ping frames received from clients."""
        return self._hub.pings

    def deliveries(self) -> list[DeliveryInfo]:
        """Every event pushed over the long connection, with send and ACK counts."""
        return [d.info() for d in list(self._hub.deliveries.values())]

    async def wait_connected(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until a client is connected (TimeoutError otherwise)."""
        await self._call(self._hub.wait_connected(timeout))

    async def drop_connection(self) -> None:
        """Close all client sockets server-side; the SDK rediscovers and reconnects."""
        await self._call(self._hub.drop())

    async def click(
        self,
        open_id: str,
        message_id: str,
        value: dict[str, Any],
        *,
        form_value: dict[str, Any] | None = None,
        timeout: float = 5,  # noqa: ASYNC109
        parts: int = 1,
    ) -> ClickResult:
        """Click a card button as ``open_id`` over the long connection.

        Sends ``card.action.trigger`` (split into ``parts`` frames) once and waits for the
        ACK: one later than the platform's 3 s (or none) is a failed click (``failed``, the
        client's error toast, card untouched); a returned card is applied to the user's
        message as the Lark client would. ``timeout`` bounds the wait if shorter.
        """
        return await self._call(self._click(open_id, message_id, value, form_value, timeout, parts))

    async def _click(
        self,
        open_id: str,
        message_id: str,
        value: dict[str, Any],
        form_value: dict[str, Any] | None,
        within: float,
        parts: int,
    ) -> ClickResult:
        event = self._card_event(open_id, message_id, value, form_value, self.verification_token)
        delivery = self._hub.deliver(event, parts=parts)
        try:
            ack = await self._hub.wait_ack(delivery, within)
        except DeliveryError:
            return ClickResult(code=0, toast=CALLBACK_FAILED, failed=True)
        return self._apply(message_id, int(ack.get("code", 0)), ack["data"])

    def _card_event(
        self,
        open_id: str,
        message_id: str,
        value: dict[str, Any],
        form_value: dict[str, Any] | None,
        verification_token: str,
        picked: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        user = self.store.user(open_id)
        if self.store.message(message_id).open_id != open_id:
            raise ValueError(f"{open_id} does not hold {message_id}")
        return card_action_event(
            app_id=self.app_id,
            user=user,
            message_id=message_id,
            token=self.store.issue_card_token(message_id),
            value=value,
            form_value=form_value,
            verification_token=verification_token,
            now=self.store.now(),
            picked=picked,
        )

    def _apply(self, message_id: str, code: int, response: dict[str, Any]) -> ClickResult:
        toast, card = response.get("toast"), response.get("card")
        if isinstance(card, dict) and card:
            # {"type":"raw","data":card} replaces the card; a template reference is kept as is
            new = card["data"] if card.get("type") == "raw" else card
            self.store.update_card(message_id, new, "callback")
        return ClickResult(code=code, toast=toast or None, card=card or None, raw=response)

    async def pick(
        self,
        open_id: str,
        message_id: str,
        person: str,
        *,
        picker: str | None = None,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> ClickResult:
        """Pick ``person`` (an open_id) on the card's person picker as ``open_id``, over the
        long connection: the picker's callback value goes out as a ``card.action.trigger`` with
        ``action.option`` = ``person``, answered and applied as a click is. KeyError when the
        card has no such picker, :class:`NotOffered` when it does not offer ``person`` (the
        client lists only whom it offers, so no pick of anyone else ever reaches the app)."""
        message = self.store.message(message_id)
        found = find_picker(message.content, picker)
        # The card is in the holder's one-to-one chat with the bot: its only member is them.
        people = offered(found, [message.open_id], self._known)
        if person not in people:
            raise NotOffered(f"the picker offers {', '.join(people)}, not {person}")
        picked = (str(found.get("name") or ""), person)
        return await self._call(self._pick(open_id, message_id, found, picked, timeout))

    def _known(self, open_id: str) -> bool:
        try:
            self.store.user(open_id)
        except KeyError:
            return False
        return True

    async def _pick(
        self,
        open_id: str,
        message_id: str,
        picker: dict[str, Any],
        picked: tuple[str, str],
        within: float,
    ) -> ClickResult:
        event = self._card_event(
            open_id, message_id, callback_value(picker), None, self.verification_token, picked
        )
        delivery = self._hub.deliver(event)
        try:
            ack = await self._hub.wait_ack(delivery, within)
        except DeliveryError:
            return ClickResult(code=0, toast=CALLBACK_FAILED, failed=True)
        return self._apply(message_id, int(ack.get("code", 0)), ack["data"])

    async def click_via_http(
        self,
        callback_url: str,
        open_id: str,
        message_id: str,
        value: dict[str, Any],
        *,
        form_value: dict[str, Any] | None = None,
        encrypt_key: str,
        verification_token: str,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> ClickResult:
        """Click in HTTP callback mode: POST the encrypted, signed callback to the gateway.

        ``code`` is the HTTP status; a card in a 200 answer is applied to the message.
        """
        event = self._card_event(open_id, message_id, value, form_value, verification_token)
        return await self._call(
            self._post_callback(callback_url, message_id, event, encrypt_key, timeout)
        )

    async def _post_callback(
        self, url: str, message_id: str, event: dict[str, Any], encrypt_key: str, within: float
    ) -> ClickResult:
        body, headers = self._seal(event, encrypt_key)
        client_timeout = aiohttp.ClientTimeout(total=within)
        try:
            async with (
                aiohttp.ClientSession(timeout=client_timeout) as session,
                session.post(url, data=body, headers=headers) as resp,
            ):
                text = await resp.text()
                status = resp.status
        finally:
            # Answered (or given up on): the click's token may now serve a delayed update.
            self.store.callback_answered(str(event["event"]["token"]))
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {"text": text}
        if status != 200 or not isinstance(answer, dict):
            return ClickResult(code=status, raw=answer if isinstance(answer, dict) else {})
        return self._apply(message_id, status, answer)

    def _seal(self, event: dict[str, Any], encrypt_key: str) -> tuple[bytes, dict[str, str]]:
        """Encrypt and sign a callback body as the platform does (plain when no key)."""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        plain = json.dumps(event, ensure_ascii=False).encode()
        if not encrypt_key:
            return plain, headers
        body = json.dumps({"encrypt": encrypt(plain, encrypt_key)}).encode()
        timestamp, nonce = str(int(self.store.now())), secrets.token_hex(8)
        headers["X-Lark-Request-Timestamp"] = timestamp
        headers["X-Lark-Request-Nonce"] = nonce
        headers["X-Lark-Signature"] = sign(timestamp, nonce, encrypt_key, body)
        return body, headers

    async def send_text(
        self,
        open_id: str,
        text: str,
        *,
        timeout: float = 5,  # noqa: ASYNC109
        parts: int = 1,
    ) -> None:
        """The user writes ``text`` to the bot: push ``im.message.receive_v1``, await the ACK."""
        await self._call(self._send_text(open_id, text, timeout, parts))

    async def _send_text(self, open_id: str, text: str, within: float, parts: int) -> None:
        user = self.store.user(open_id)
        msg = self.store.record_user_message(user, text)
        event = message_receive_event(
            app_id=self.app_id,
            user=user,
            message_id=msg.message_id,
            text=text,
            now=self.store.now(),
        )
        await self._hub.wait_ack(self._hub.deliver(event, parts=parts), within)
