"""The Lark sandbox, driven only by the real lark_oapi SDK (no mocks)."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import lark_oapi as lark
import lark_oapi.ws.client as wsc
import pytest
from aiohttp import web
from lark_oapi.api.contact.v3 import BatchGetIdUserRequest, BatchGetIdUserRequestBody
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    CreateMessageResponse,
    PatchMessageRequest,
    PatchMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from lark_oapi.ws.exception import ClientException

from sandbox.lark.pickers import NotOffered
from sandbox.lark.sandbox import LarkSandbox

_SDK_LOOP = wsc.loop
ALICE = "ou_alice"
BOB = "ou_bob"


def card(title: str, *, schema2: bool = True) -> dict[str, Any]:
    """A minimal approval card; 1.0 cards are deliberately not shared (no update_multi)."""
    button = {"tag": "button", "text": {"tag": "plain_text", "content": "Approve"}}
    header = {"title": {"tag": "plain_text", "content": title}}
    if schema2:
        return {"schema": "2.0", "header": header, "body": {"elements": [button]}}
    return {"header": header, "elements": [{"tag": "action", "actions": [button]}]}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests and httpx honour HTTP(S)_PROXY; loopback must never go through one
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def sandbox() -> Iterator[LarkSandbox]:
    # A fresh app_id per test: the SDK caches tenant tokens process-wide by app_id.
    sb = LarkSandbox(app_id=f"cli_{secrets.token_hex(6)}", ack_timeout=0.5)
    sb.start()
    sb.add_user(
        ALICE, name="Alice", user_id="u_alice", email="alice@example.com", mobile="+8613800000000"
    )
    sb.add_user(BOB, name="Bob", email="bob@example.com")
    yield sb
    sb.stop()


@pytest.fixture
def client(sandbox: LarkSandbox) -> lark.Client:
    return (
        lark.Client.builder()
        .app_id(sandbox.app_id)
        .app_secret(sandbox.app_secret)
        .domain(sandbox.base_url)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )


def create_request(
    receiver: str,
    content: dict[str, Any],
    *,
    msg_type: str = "interactive",
    uuid: str | None = None,
    id_type: str = "open_id",
) -> CreateMessageRequest:
    body = (
        CreateMessageRequestBody.builder()
        .receive_id(receiver)
        .msg_type(msg_type)
        .content(json.dumps(content))
    )
    if uuid:
        body = body.uuid(uuid)
    return (
        CreateMessageRequest.builder().receive_id_type(id_type).request_body(body.build()).build()
    )


def send_card(client: lark.Client, receiver: str, title: str, **kw: Any) -> CreateMessageResponse:
    resp: CreateMessageResponse = client.im.v1.message.create(
        create_request(receiver, card(title, **kw))
    )
    return resp


class WsApp:
    """``lark.ws.Client`` instances on one private thread and loop, as the gateway runs them.

    With one client it goes through the SDK's own blocking ``start()``; with several it
    connects each on the same loop, since the SDK keeps its loop in a module global and
    two threads would steal each other's tasks.
    """

    def __init__(
        self,
        sandbox: LarkSandbox,
        handler: lark.EventDispatcherHandler,
        count: int = 1,
        secret: str | None = None,
    ) -> None:
        self._args = (sandbox.app_id, secret or sandbox.app_secret, sandbox.base_url, handler)
        self._count = count
        self.clients: list[Any] = []
        self.error: BaseException | None = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lark-ws", daemon=True)

    def start(self) -> WsApp:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        wsc.loop = self.loop  # the SDK captured the importing thread's loop at import
        app_id, secret, domain, handler = self._args
        # Built here: the client's ExpiringCache schedules a task on the current loop.
        self.clients = [
            lark.ws.Client(
                app_id,
                secret,
                event_handler=handler,
                domain=domain,
                log_level=lark.LogLevel.CRITICAL,
            )
            for _ in range(self._count)
        ]
        self._ready.set()
        try:
            if self._count == 1:
                self.clients[0].start()
            else:
                for c in self.clients:
                    self.loop.run_until_complete(c._connect())
                    self.loop.create_task(c._ping_loop())
                self.loop.run_forever()
        except BaseException as exc:  # start() ends by raising when we cancel it
            self.error = exc
        finally:
            self._drain()
            # Hand the SDK its import-time loop back: dropping the last reference to it
            # would leave an unclosed loop for the garbage collector to warn about.
            wsc.loop = _SDK_LOOP

    def _drain(self) -> None:
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def stop(self) -> None:
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            for c in self.clients:
                c._auto_reconnect = False
                # _ping_loop sleeps ping_interval in a finally block: a cancel landing
                # mid-ping would otherwise keep the task alive for two minutes
                c._ping_interval = 0
                await c._disconnect()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self._thread.join(5)
        assert not self._thread.is_alive()


class Recorder:
    """Builds the event handler and records what each client handled."""

    def __init__(self, respond: Callable[[P2CardActionTrigger], Any] | None = None) -> None:
        self.clicks: list[P2CardActionTrigger] = []
        self.texts: list[Any] = []
        self._respond = respond
        self._seen = threading.Condition()

    def handler(self) -> lark.EventDispatcherHandler:
        return (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_card_action_trigger(self._on_click)
            .register_p2_im_message_receive_v1(self._on_text)
            .build()
        )

    def _on_click(self, data: P2CardActionTrigger) -> Any:
        with self._seen:
            self.clicks.append(data)
            self._seen.notify_all()
        return self._respond(data) if self._respond else None

    def _on_text(self, data: Any) -> None:
        with self._seen:
            self.texts.append(data)
            self._seen.notify_all()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(
        lambda data: P2CardActionTriggerResponse(
            {
                "toast": {"type": "success", "content": f"ok {data.event.action.value['req']}"},
                "card": {"type": "raw", "data": card("Approved")},
            }
        )
    )


@pytest.fixture
async def ws_app(sandbox: LarkSandbox, recorder: Recorder) -> Any:
    app = WsApp(sandbox, recorder.handler()).start()
    await sandbox.wait_connected(5)
    yield app
    app.stop()


async def wait_until(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- OpenAPI -------------------------------------------------------------------------------


def test_token_is_fetched_once_and_cached(sandbox: LarkSandbox, client: lark.Client) -> None:
    assert send_card(client, ALICE, "one").success()
    assert send_card(client, ALICE, "two").success()
    paths = [r.path for r in sandbox.requests_log]
    assert paths.count("/open-apis/auth/v3/tenant_access_token/internal") == 1
    assert paths.count("/open-apis/im/v1/messages") == 2


async def test_send_with_uuid_is_idempotent(sandbox: LarkSandbox, client: lark.Client) -> None:
    request = create_request(ALICE, card("Deploy?"), uuid="req-42")
    first = client.im.v1.message.create(request)
    again = await client.im.v1.message.acreate(
        create_request(ALICE, card("Deploy?"), uuid="req-42")
    )
    assert first.code == 0 and again.code == 0
    assert again.data.message_id == first.data.message_id
    [held] = sandbox.cards(ALICE)
    assert held.message_id == first.data.message_id
    assert held.content["header"]["title"]["content"] == "Deploy?"
    assert sandbox.usage(ALICE).created == 1

    sandbox.advance_clock(3601)  # the uuid window is one hour
    later = client.im.v1.message.create(create_request(ALICE, card("Deploy?"), uuid="req-42"))
    assert later.data.message_id != first.data.message_id
    assert sandbox.usage(ALICE).created == 2


def test_text_by_email_and_unknown_receiver(sandbox: LarkSandbox, client: lark.Client) -> None:
    sent = client.im.v1.message.create(
        create_request("bob@example.com", {"text": "hi"}, msg_type="text", id_type="email")
    )
    assert sent.code == 0
    assert [m.content for m in sandbox.messages(BOB)] == [{"text": "hi"}]
    assert sandbox.cards(BOB) == []

    lost = send_card(client, "ou_nobody", "x")
    assert (lost.code, lost.raw.status_code) == (230013, 400)


def test_content_must_be_a_json_string(sandbox: LarkSandbox, client: lark.Client) -> None:
    raw = (
        lark.BaseRequest.builder()
        .http_method(lark.HttpMethod.POST)
        .uri("/open-apis/im/v1/messages")
        .queries([("receive_id_type", "open_id")])
        .token_types({lark.AccessTokenType.TENANT})
        .body({"receive_id": ALICE, "msg_type": "interactive", "content": card("x")})
        .build()
    )
    resp = client.request(raw)
    assert resp.code == 230001
    assert sandbox.messages(ALICE) == []


def test_patch_keeps_every_version(sandbox: LarkSandbox, client: lark.Client) -> None:
    message_id = send_card(client, ALICE, "Pending").data.message_id
    patch = (
        PatchMessageRequest.builder()
        .message_id(message_id)
        .request_body(
            PatchMessageRequestBody.builder().content(json.dumps(card("Approved"))).build()
        )
        .build()
    )
    assert client.im.v1.message.patch(patch).code == 0
    [held] = sandbox.cards(ALICE)
    assert [v.content["header"]["title"]["content"] for v in held.versions] == [
        "Pending",
        "Approved",
    ]
    assert [v.source for v in held.versions] == ["create", "patch"]
    assert sandbox.usage(ALICE).patched == 1

    unshared = send_card(client, ALICE, "Old style", schema2=False).data.message_id
    refused = client.im.v1.message.patch(
        PatchMessageRequest.builder()
        .message_id(unshared)
        .request_body(PatchMessageRequestBody.builder().content(json.dumps(card("New"))).build())
        .build()
    )
    assert refused.code == 230099


async def test_throttle_is_visible_to_the_sdk(sandbox: LarkSandbox, client: lark.Client) -> None:
    sandbox.throttle(2, reset_seconds=3)
    sync = send_card(client, ALICE, "a")
    assert (sync.code, sync.raw.status_code) == (99991400, 429)
    assert sync.raw.headers["x-ogw-ratelimit-reset"] == "3"
    async_ = await client.im.v1.message.acreate(create_request(ALICE, card("b")))
    assert (async_.code, async_.raw.status_code) == (99991400, 429)
    assert async_.raw.headers["x-ogw-ratelimit-reset"] == "3"
    assert send_card(client, ALICE, "c").code == 0
    assert len(sandbox.cards(ALICE)) == 1


def test_per_user_send_limit(sandbox: LarkSandbox, client: lark.Client) -> None:
    sandbox.limit_user_qps(5)
    codes = [send_card(client, ALICE, str(i)).code for i in range(6)]
    assert codes == [0, 0, 0, 0, 0, 230020]
    assert send_card(client, BOB, "other user").code == 0


def test_the_1001st_call_in_any_minute_is_refused(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    # Twelve receivers: 48 sends a second to one user would meet its own 5/s limit first.
    receivers = [sandbox.add_user(f"ou_r{n}", name=f"R {n}").open_id for n in range(12)]
    sandbox.limit_app_qps(50, per_minute=1000)
    sandbox.freeze_clock()
    for i in range(1000):  # 21 s of calls, never 50 in a second
        assert send_card(client, receivers[i % 12], str(i)).code == 0, i
        sandbox.advance_clock(0.021)
    refused = send_card(client, ALICE, "1001st")
    assert (refused.code, refused.raw.status_code) == (99991400, 429)
    assert refused.raw.headers["x-ogw-ratelimit-limit"] == "1000"
    assert refused.raw.headers["x-ogw-ratelimit-reset"] == "39"  # the first call leaves at 60 s
    sandbox.advance_clock(39)
    assert send_card(client, ALICE, "first left").code == 0
    # A sliding window: only the first call has left it, not a whole minute's bucket.
    assert send_card(client, ALICE, "second still in").code == 99991400
    assert sum(len(sandbox.cards(r)) for r in receivers) == 1000
    assert len(sandbox.cards(ALICE)) == 1


def test_bad_credentials_are_refused(sandbox: LarkSandbox) -> None:
    wrong = (
        lark.Client.builder()
        .app_id(sandbox.app_id)
        .app_secret("nope")
        .domain(sandbox.base_url)
        .log_level(lark.LogLevel.CRITICAL)
        .build()
    )
    with pytest.raises(ObtainAccessTokenException) as token_err:
        send_card(wrong, ALICE, "x")
    assert token_err.value.code == 10014

    app = WsApp(sandbox, Recorder().handler(), secret="nope").start()
    app._thread.join(5)
    assert isinstance(app.error, ClientException)
    assert sandbox.connections_opened == 0


def test_batch_get_id(sandbox: LarkSandbox, client: lark.Client) -> None:
    body = (
        BatchGetIdUserRequestBody.builder()
        .emails(["alice@example.com", "nobody@example.com"])
        .mobiles(["+8613800000000"])
        .build()
    )
    request = BatchGetIdUserRequest.builder().user_id_type("user_id").request_body(body).build()
    resp = client.contact.v3.user.batch_get_id(request)
    assert resp.code == 0
    found = [(u.user_id, u.email, u.mobile) for u in resp.data.user_list]
    assert found == [
        ("u_alice", "alice@example.com", None),
        (None, "nobody@example.com", None),
        ("u_alice", None, "+8613800000000"),
    ]


# -- long connection -----------------------------------------------------------------------


async def test_click_round_trip_applies_toast_and_card(
    sandbox: LarkSandbox, client: lark.Client, recorder: Recorder, ws_app: WsApp
) -> None:
    message_id = send_card(client, ALICE, "Deploy?").data.message_id
    result = await sandbox.click(
        ALICE, message_id, {"action": "approve", "req": "42"}, form_value={"reason": "looks good"}
    )
    assert result.code == 200
    assert result.toast == {"type": "success", "content": "ok 42"}
    [clicked] = recorder.clicks
    assert clicked.event.operator.open_id == ALICE
    assert clicked.event.context.open_message_id == message_id
    assert clicked.event.action.form_value == {"reason": "looks good"}
    [held] = sandbox.cards(ALICE)
    assert held.content == card("Approved")
    assert held.versions[-1].source == "callback"
    await wait_until(lambda: sandbox.pings >= 1)  # the SDK pings right after connecting


async def test_delayed_update_token_limits(
    sandbox: LarkSandbox, client: lark.Client, recorder: Recorder, ws_app: WsApp
) -> None:
    message_id = send_card(client, ALICE, "Deploy?").data.message_id
    await sandbox.click(ALICE, message_id, {"action": "approve", "req": "1"})
    token = recorder.clicks[0].event.token

    def update(title: str) -> int:
        req = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.POST)
            .uri("/open-apis/interactive/v1/card/update")
            .token_types({lark.AccessTokenType.TENANT})
            .body({"token": token, "card": card(title)})
            .build()
        )
        code: int = client.request(req).code
        return code

    assert [update("Done 1"), update("Done 2"), update("Done 3")] == [0, 0, 200740]
    assert sandbox.cards(ALICE)[0].content == card("Done 2")
    assert sandbox.usage(ALICE).delayed_updates == 2

    await sandbox.click(ALICE, message_id, {"action": "approve", "req": "2"})
    token = recorder.clicks[1].event.token
    sandbox.advance_clock(1801)  # tokens live 30 minutes
    assert update("Too late") == 200740


async def test_multi_part_frames_are_reassembled(
    sandbox: LarkSandbox, client: lark.Client, recorder: Recorder, ws_app: WsApp
) -> None:
    message_id = send_card(client, ALICE, "Deploy?").data.message_id
    result = await sandbox.click(ALICE, message_id, {"action": "approve", "req": "7"}, parts=3)
    assert result.toast == {"type": "success", "content": "ok 7"}
    await sandbox.send_text(ALICE, "status please", parts=4)
    assert len(recorder.clicks) == 1
    [text] = recorder.texts
    assert json.loads(text.event.message.content) == {"text": "status please"}
    assert text.event.message.chat_type == "p2p"
    assert [(d.sent, d.frames, d.acks) for d in sandbox.deliveries()] == [(1, 3, 1), (1, 4, 1)]


async def test_unacked_frame_is_redelivered_after_reconnect(
    sandbox: LarkSandbox, recorder: Recorder, ws_app: WsApp
) -> None:
    sandbox.hold_acks(True)
    sending = asyncio.create_task(sandbox.send_text(ALICE, "hello", timeout=5))
    await wait_until(lambda: any(d.acks_lost for d in sandbox.deliveries()))
    await sandbox.drop_connection()
    sandbox.hold_acks(False)
    await sandbox.wait_connected(5)
    await sending

    assert sandbox.connections_opened == 2
    [delivery] = sandbox.deliveries()
    assert (delivery.sent, delivery.acks, delivery.acks_lost) == (2, 1, 1)
    assert delivery.devices == ("dev1", "dev2")  # the redelivery went to the new socket
    first, second = recorder.texts
    # at-least-once: the app saw the event twice and must dedupe on header.event_id
    assert first.header.event_id == second.header.event_id


async def test_a_click_whose_ack_is_lost_fails_and_is_never_sent_again(
    sandbox: LarkSandbox, client: lark.Client, recorder: Recorder, ws_app: WsApp
) -> None:
    message_id = send_card(client, ALICE, "Deploy?").data.message_id
    sandbox.hold_acks(True)
    result = await sandbox.click(ALICE, message_id, {"action": "approve", "req": "1"})
    assert result.failed and result.toast is not None and result.toast["type"] == "error"
    assert sandbox.cards(ALICE)[0].versions[-1].source == "create"
    [delivery] = sandbox.deliveries()
    assert delivery.sent == 1 and len(recorder.clicks) == 1  # card callbacks are not re-sent


async def test_a_click_answered_after_3_s_fails(sandbox: LarkSandbox, client: lark.Client) -> None:
    gate = threading.Event()

    def slow(data: P2CardActionTrigger) -> Any:
        gate.wait(10)  # the decision is not ready within the platform's 3 s
        return P2CardActionTriggerResponse({"card": {"type": "raw", "data": card("Approved")}})

    recorder = Recorder(slow)
    app = WsApp(sandbox, recorder.handler()).start()
    try:
        await sandbox.wait_connected(5)
        message_id = send_card(client, ALICE, "Deploy?").data.message_id
        result = await sandbox.click(ALICE, message_id, {"action": "approve", "req": "1"})
        gate.set()
        await wait_until(lambda: sandbox.deliveries()[0].acks_late == 1)
    finally:
        gate.set()
        app.stop()
    assert result.failed and result.card is None
    assert sandbox.cards(ALICE)[0].versions[-1].source == "create"  # the late card is void
    assert sandbox.deliveries()[0].sent == 1


async def test_each_event_goes_to_one_client(sandbox: LarkSandbox) -> None:
    recorder = Recorder()
    app = WsApp(sandbox, recorder.handler(), count=2).start()
    try:
        await wait_until(lambda: sandbox.connections_opened == 2)
        for i in range(4):
            await sandbox.send_text(ALICE, f"m{i}")
    finally:
        app.stop()
    assert sorted(json.loads(t.event.message.content)["text"] for t in recorder.texts) == [
        "m0",
        "m1",
        "m2",
        "m3",
    ]
    assert [d.sent for d in sandbox.deliveries()] == [1, 1, 1, 1]


async def test_stop_closes_live_connections(sandbox: LarkSandbox, ws_app: WsApp) -> None:
    started = time.monotonic()
    sandbox.stop()  # a client is still connected and will try to reconnect
    assert time.monotonic() - started < 2
    assert not sandbox.connected


# -- SDK behaviour the gateway has to live with ------------------------------------------


async def test_sdk_handles_a_redelivered_multi_part_event_once_per_part(
    sandbox: LarkSandbox, recorder: Recorder, ws_app: WsApp
) -> None:
    # The SDK keeps a completed multi-part buffer for 5 s, so every part of a
    # redelivery completes it again: dedupe on header.event_id, not on frames.
    sandbox.hold_acks(True)
    sending = asyncio.create_task(sandbox.send_text(ALICE, "status please", parts=3))
    await wait_until(lambda: any(d.acks_lost for d in sandbox.deliveries()))
    sandbox.hold_acks(False)
    await sending  # returns on the first ACK; the other parts are still being handled
    await wait_until(lambda: sandbox.deliveries()[0].acks == 3)
    assert len(recorder.texts) == 1 + 3
    assert len({t.header.event_id for t in recorder.texts}) == 1


async def test_sdk_arequest_does_not_parse_error_bodies(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    # arequest looks up "Content-Type" in httpx's lower-cased header dict, so the JSON
    # body is never parsed: read resp.raw.content (or use request) for generic calls.
    req = (
        lark.BaseRequest.builder()
        .http_method(lark.HttpMethod.POST)
        .uri("/open-apis/interactive/v1/card/update")
        .token_types({lark.AccessTokenType.TENANT})
        .body({"token": "c-unknown", "card": card("x")})
        .build()
    )
    assert client.request(req).code == 200740
    answer = await client.arequest(req)
    assert answer.code is None
    assert json.loads(answer.raw.content)["code"] == 200740


# -- HTTP callback mode --------------------------------------------------------------------


async def test_click_via_http_callback(
    sandbox: LarkSandbox, client: lark.Client, recorder: Recorder
) -> None:
    handler = (
        lark.EventDispatcherHandler.builder("enc-key", "v-token")
        .register_p2_card_action_trigger(recorder._on_click)
        .build()
    )

    async def callback(request: web.Request) -> web.Response:
        raw = lark.RawRequest()
        raw.uri = request.path
        raw.headers = dict(request.headers)
        raw.body = await request.read()
        answer = handler.do(raw)
        return web.Response(
            status=answer.status_code, body=answer.content, content_type="application/json"
        )

    app = web.Application()
    app.router.add_post("/lark/callback", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/lark/callback"
    try:
        message_id = send_card(client, ALICE, "Deploy?").data.message_id
        result = await sandbox.click_via_http(
            url,
            ALICE,
            message_id,
            {"action": "approve", "req": "9"},
            encrypt_key="enc-key",
            verification_token="v-token",
        )
        forged = await sandbox.click_via_http(
            url,
            ALICE,
            message_id,
            {"action": "approve", "req": "9"},
            encrypt_key="wrong-key",
            verification_token="v-token",
        )
    finally:
        await runner.cleanup()
    assert result.code == 200
    assert result.toast == {"type": "success", "content": "ok 9"}
    assert sandbox.cards(ALICE)[0].content == card("Approved")
    assert forged.code == 500
    assert len(recorder.clicks) == 1


# -- as strict as the platform -------------------------------------------------------------


def patch_request(message_id: str, content: str) -> PatchMessageRequest:
    body = PatchMessageRequestBody.builder().content(content).build()
    return PatchMessageRequest.builder().message_id(message_id).request_body(body).build()


def drop_sdk_token(app_id: str) -> None:
    """Drop the SDK's cached tenant token (kept until its own wall clock says it expires)."""
    TokenManager.cache.set(f"self_tenant_token:{app_id}", "", 0)


def big_card(size: int) -> dict[str, Any]:
    """A shared card whose JSON is about ``size`` bytes."""
    big = card("Big")
    big["body"]["elements"].append({"tag": "markdown", "content": "x" * size})
    return big


def test_a_lapsed_tenant_token_is_refused_and_the_sdk_keeps_it(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    assert send_card(client, ALICE, "fresh").code == 0
    sandbox.advance_clock(7201)  # "expire": 7200
    lapsed = send_card(client, ALICE, "lapsed")
    assert (lapsed.code, lapsed.raw.status_code) == (99991668, 400)
    # lark-oapi 1.7.5 caches the token until its own clock says expire - 600 s and does not
    # drop it on a refusal: a caller has to fetch a new one itself.
    assert send_card(client, ALICE, "again").code == 99991668
    drop_sdk_token(sandbox.app_id)
    assert send_card(client, ALICE, "refreshed").code == 0
    sandbox.revoke_tokens()
    assert send_card(client, ALICE, "revoked").code == 99991663
    assert sandbox.tokens_issued == 2


def test_bodies_over_30_kb_are_refused(sandbox: LarkSandbox, client: lark.Client) -> None:
    fits = send_card(client, ALICE, "small")
    assert fits.code == 0
    # 29,000 bytes of card JSON, but its quotes are escaped again inside "content"
    quoted = card("Quoted")
    quoted["body"]["elements"].append({"tag": "markdown", "content": '"' * 14_500})
    refused = client.im.v1.message.patch(patch_request(fits.data.message_id, json.dumps(quoted)))
    assert (refused.code, refused.raw.status_code) == (230025, 400)
    assert sandbox.requests_log[-1].size > 30 * 1024
    assert client.im.v1.message.create(create_request(ALICE, big_card(31_000))).code == 230025
    text = {"text": "y" * 100_000}  # text messages may carry 150 KB
    assert client.im.v1.message.create(create_request(ALICE, text, msg_type="text")).code == 0
    assert [v.source for v in sandbox.cards(ALICE)[0].versions] == ["create"]


def test_only_messages_of_the_last_14_days_are_updated_5_times_a_second(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    sandbox.freeze_clock()
    message_id = send_card(client, ALICE, "Pending").data.message_id
    content = json.dumps(card("Approved"))
    codes = [client.im.v1.message.patch(patch_request(message_id, content)).code for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 230020]
    sandbox.advance_clock(14 * 24 * 3600 - 1)
    drop_sdk_token(sandbox.app_id)  # the tenant token lapsed meanwhile
    assert client.im.v1.message.patch(patch_request(message_id, content)).code == 0
    sandbox.advance_clock(2)  # 14 days and a second after it was sent
    old = client.im.v1.message.patch(patch_request(message_id, content))
    assert (old.code, old.raw.status_code) == (230031, 400)
    assert len(sandbox.cards(ALICE)[0].versions) == 1 + 5 + 1


async def test_a_delayed_update_must_follow_the_callback_answer(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    def update(token: str, title: str) -> int:
        req = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.POST)
            .uri("/open-apis/interactive/v1/card/update")
            .token_types({lark.AccessTokenType.TENANT})
            .body({"token": token, "card": card(title)})
            .build()
        )
        code: int = client.request(req).code
        return code

    early: list[int] = []

    def answer_after_updating(data: P2CardActionTrigger) -> Any:
        early.append(update(data.event.token, "Too early"))  # the callback is not answered yet
        return None

    recorder = Recorder(answer_after_updating)
    app = WsApp(sandbox, recorder.handler()).start()
    try:
        await sandbox.wait_connected(5)
        message_id = send_card(client, ALICE, "Deploy?").data.message_id
        result = await sandbox.click(ALICE, message_id, {"action": "approve", "req": "1"})
    finally:
        app.stop()
    assert not result.failed and early == [200740]
    token = recorder.clicks[0].event.token
    assert await asyncio.to_thread(update, token, "After the answer") == 0
    assert sandbox.cards(ALICE)[0].content == card("After the answer")
    big = await asyncio.to_thread(
        lambda: (
            client.request(
                lark.BaseRequest.builder()
                .http_method(lark.HttpMethod.POST)
                .uri("/open-apis/interactive/v1/card/update")
                .token_types({lark.AccessTokenType.TENANT})
                .body({"token": token, "card": big_card(31_000)})
                .build()
            ).code
        )
    )
    assert big == 230025


PICKERS = [
    ({"tag": "select_person"}, True),  # the tag is the one field always required
    ({"tag": "select_person", "options": [{"value": "ou_a"}], "initial_option": "ou_a"}, True),
    # Not an open_id: valid JSON, and the doc's fallback (the chat's members) applies.
    ({"tag": "select_person", "options": [{"value": "alice@example.com"}]}, True),
    ({"tag": "select_person", "options": [{"text": "Alice"}]}, False),  # no value
    ({"tag": "select_person", "options": [{"value": "ou_a"}], "initial_option": "ou_b"}, False),
    ({"tag": "select_person", "placeholder": "Pick"}, False),
    ({"tag": "select_person", "behaviors": [{"type": "jump"}]}, False),
    ({"tag": "form", "name": "f", "elements": [{"tag": "select_person"}]}, False),  # no name
    ({"tag": "form", "name": "f", "elements": [{"tag": "select_person", "name": "p"}]}, True),
]


def test_person_pickers_are_checked_as_documented(client: lark.Client) -> None:
    codes = []
    for picker, _ in PICKERS:
        body = card("Pick")
        body["body"]["elements"].append(picker)
        codes.append(client.im.v1.message.create(create_request(ALICE, body)).code)
    assert codes == [0 if sent else 230099 for _, sent in PICKERS]


def _picker_card(options: list[str] | None) -> dict[str, Any]:
    body = card("Pick")
    picker: dict[str, Any] = {
        "tag": "select_person",
        "behaviors": [{"type": "callback", "value": {"action": "hand_over", "req": "9"}}],
    }
    if options is not None:
        picker["options"] = [{"value": open_id} for open_id in options]
    body["body"]["elements"].append(picker)
    return body


@pytest.mark.parametrize(
    ("options", "offered"),
    [
        (None, [ALICE]),  # the members of Alice's one-to-one chat with the bot: Alice alone
        ([BOB], [BOB]),
        (["ou_gone", "alice@example.com"], [ALICE]),  # none valid: the chat's members again
        (["ou_gone", BOB], [BOB]),
    ],
)
async def test_a_person_picker_offers_its_options_or_the_chats_members(
    sandbox: LarkSandbox,
    client: lark.Client,
    recorder: Recorder,
    ws_app: WsApp,
    options: list[str] | None,
    offered: list[str],
) -> None:
    sent = client.im.v1.message.create(create_request(ALICE, _picker_card(options)))
    message_id = sent.data.message_id
    for person in (ALICE, BOB, "ou_gone"):
        if person not in offered:
            with pytest.raises(NotOffered, match=person):
                await sandbox.pick(ALICE, message_id, person)
    assert recorder.clicks == []  # nothing the client cannot send reached the app
    for person in offered:
        assert (await sandbox.pick(ALICE, message_id, person)).code == 200
    picks = [(c.event.action.tag, c.event.action.option) for c in recorder.clicks]
    assert picks == [("select_person", person) for person in offered]
