"""The DingTalk sandbox driven by the real ``dingtalk_stream`` SDK (no mocks).

Each SDK client runs ``DingTalkStreamClient.start()`` on its own thread and loop, the
way the gateway must run it (the SDK blocks its loop on ``requests``). HTTP calls are
made the way the gateway will make them: aiohttp with the access-token header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import dingtalk_stream
import dingtalk_stream.card_replier
import dingtalk_stream.chatbot
import dingtalk_stream.stream
import pytest
import requests
from dingtalk_stream import AckMessage, CardCallbackMessage, ChatbotMessage

from sandbox.dingtalk.sandbox import DingTalkSandbox, SandboxError, point_sdk_at, sdk_sleeps_scaled

TEMPLATE = "approval-card.schema"
CARD_TOPIC = dingtalk_stream.Card_Callback_Router_Topic
SDK_LOG = logging.getLogger("tests.dingtalk_sdk")


# -- SDK side ---------------------------------------------------------------------------
class EndpointStreamClient(dingtalk_stream.DingTalkStreamClient):  # type: ignore[misc]
    """A stream client with its own endpoint, so two can target different platforms.

    ``open_connection`` reads ``DingTalkStreamClient.OPEN_CONNECTION_API`` through the
    class name, so neither a subclass attribute nor an instance attribute redirects it:
    the request has to be re-issued here.
    """

    def __init__(self, credential: dingtalk_stream.Credential, base_url: str) -> None:
        super().__init__(credential, logger=SDK_LOG)
        self.base_url = base_url

    def open_connection(self) -> dict[str, Any] | None:
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        topics += [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": f"dingtalk-sdk-python/v{dingtalk_stream.version.VERSION_STRING}-union",
            "localIp": "",
        }
        url = self.base_url + "/v1.0/gateway/connections/open"
        try:
            response = requests.post(url, json=body, timeout=10)
            response.raise_for_status()
        except requests.RequestException as exc:
            self.logger.error("open connection failed: %s", exc)
            return None
        result: dict[str, Any] = response.json()
        return result


class CardHandler(dingtalk_stream.CallbackHandler):  # type: ignore[misc]
    """Decides like the gateway: once per messageId, whatever the redeliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, CardCallbackMessage]] = []
        self.decisions: dict[str, str] = {}

    async def process(self, message: dingtalk_stream.CallbackMessage) -> tuple[int, dict[str, Any]]:
        card = CardCallbackMessage.from_dict(message.data)
        headers = message.headers
        self.seen.append((headers.message_id, headers.connection_id, card))
        decision = card.content["cardPrivateData"]["params"]["decision"]
        self.decisions.setdefault(headers.message_id, decision)
        return AckMessage.STATUS_OK, {
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "cardData": {"cardParamMap": {"status": decision}},
            "userPrivateData": {"cardParamMap": {"myChoice": decision}},
        }


class EchoBot(dingtalk_stream.ChatbotHandler):  # type: ignore[misc]
    """Replies through the message's sessionWebhook, as the gateway's binding flow does."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[ChatbotMessage] = []

    async def process(self, message: dingtalk_stream.CallbackMessage) -> tuple[int, str]:
        incoming = ChatbotMessage.from_dict(message.data)
        self.received.append(incoming)
        self.reply_text(f"echo: {incoming.text.content.strip()}", incoming)
        return AckMessage.STATUS_OK, "OK"


class SdkThread:
    """``client.start()`` on a private thread and loop, stoppable from the test."""

    def __init__(self, client: dingtalk_stream.DingTalkStreamClient) -> None:
        self.client = client
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="dingtalk-sdk", daemon=True)

    def start(self) -> SdkThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._cancel_until_done)
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "SDK client did not stop"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self.client.start())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            rest = asyncio.all_tasks(self._loop)
            for task in rest:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            self._loop.close()

    def _cancel_until_done(self) -> None:
        # 0.24.3 catches CancelledError inside its loop and sleeps before reconnecting;
        # only a second cancel (landing in that sleep) stops it.
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self._loop.call_later(0.05, self._cancel_until_done)


async def eventually(predicate: Callable[[], bool], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # requests and websockets honour proxy variables; the sandbox is on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield


@pytest.fixture
def sdk_endpoint() -> Iterator[None]:
    """Restore the SDK's process-wide endpoint after a test that uses ``point_sdk_at``."""
    stream, replier, chatbot = (
        dingtalk_stream.stream,
        dingtalk_stream.card_replier,
        dingtalk_stream.chatbot,
    )
    saved = (
        stream.DingTalkStreamClient.OPEN_CONNECTION_API,
        stream.DINGTALK_OPENAPI_ENDPOINT,
        replier.DINGTALK_OPENAPI_ENDPOINT,
        chatbot.DINGTALK_OPENAPI_ENDPOINT,
    )
    yield
    (
        stream.DingTalkStreamClient.OPEN_CONNECTION_API,
        stream.DINGTALK_OPENAPI_ENDPOINT,
        replier.DINGTALK_OPENAPI_ENDPOINT,
        chatbot.DINGTALK_OPENAPI_ENDPOINT,
    ) = saved


def _sandbox(**kwargs: Any) -> DingTalkSandbox:
    sandbox = DingTalkSandbox(**kwargs)
    sandbox.start()
    sandbox.add_user("manager1", name="王经理", mobile="13800000001")
    sandbox.add_user("dev2", name="Dev Two", mobile="13800000002")
    return sandbox


@pytest.fixture
def sandbox() -> Iterator[DingTalkSandbox]:
    sandbox = _sandbox()
    yield sandbox
    sandbox.stop()


Runner = Callable[..., SdkThread]


@pytest.fixture
def run_client() -> Iterator[Runner]:
    """Start SDK clients against a sandbox; all are stopped at teardown."""
    threads: list[SdkThread] = []

    def run(
        sandbox: DingTalkSandbox,
        *handlers: tuple[str, Any],
        secret: str = "sandbox-secret",
        events: Any = None,
    ) -> SdkThread:
        credential = dingtalk_stream.Credential(sandbox.client_id, secret)
        client = EndpointStreamClient(credential, sandbox.base_url)
        for topic, handler in handlers:
            client.register_callback_handler(topic, handler)
        if events is not None:
            client.register_all_event_handler(events)
        threads.append(SdkThread(client).start())
        return threads[-1]

    yield run
    for thread in threads:
        thread.stop()


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


async def token_for(http: aiohttp.ClientSession, sandbox: DingTalkSandbox) -> str:
    body = {"appKey": sandbox.client_id, "appSecret": "sandbox-secret"}
    async with http.post(f"{sandbox.base_url}/v1.0/oauth2/accessToken", json=body) as response:
        assert response.status == 200
        payload = await response.json()
    assert payload["expireIn"] == 7200
    token: str = payload["accessToken"]
    return token


async def call(
    http: aiohttp.ClientSession,
    sandbox: DingTalkSandbox,
    method: str,
    path: str,
    body: dict[str, Any],
    token: str,
) -> tuple[int, dict[str, Any]]:
    headers = {"x-acs-dingtalk-access-token": token}
    url = sandbox.base_url + path
    async with http.request(method, url, json=body, headers=headers) as response:
        return response.status, await response.json()


def approval_card(
    out_track_id: str, user_id: str, robot_code: str = "ding_sandbox"
) -> dict[str, Any]:
    """A createAndDeliver body shaped exactly like the gateway's."""
    return {
        "cardTemplateId": TEMPLATE,
        "outTrackId": out_track_id,
        "callbackType": "STREAM",
        "openSpaceId": f"dtv1.card//IM_ROBOT.{user_id}",
        "imRobotOpenSpaceModel": {"supportForward": False},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": robot_code},
        "cardData": {"cardParamMap": {"title": "Deploy prod", "status": "pending"}},
    }


async def deliver(
    http: aiohttp.ClientSession, sandbox: DingTalkSandbox, out_track_id: str, user_id: str
) -> dict[str, Any]:
    token = await token_for(http, sandbox)
    status, body = await call(
        http,
        sandbox,
        "POST",
        "/v1.0/card/instances/createAndDeliver",
        approval_card(out_track_id, user_id, sandbox.robot_code),
        token,
    )
    assert status == 200, body
    return body


async def concurrently(awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
    async def wrapper() -> Any:
        return await awaitable

    task = asyncio.create_task(wrapper())
    await asyncio.sleep(0)
    return task


# -- stream connection ----------------------------------------------------------------------
async def test_sdk_opens_connection_and_answers_ping(
    sandbox: DingTalkSandbox, sdk_endpoint: None
) -> None:
    # The unmodified client, redirected process-wide the way option B of the notes says.
    point_sdk_at(sandbox.base_url)
    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(sandbox.client_id, "sandbox-secret"), logger=SDK_LOG
    )
    client.register_callback_handler(CARD_TOPIC, CardHandler())
    runner = SdkThread(client).start()
    try:
        await sandbox.wait_connected()
        ack = await sandbox.ping("opaque-123")
    finally:
        runner.stop()
    assert sandbox.connections_opened == 1
    assert (ack.code, ack.message, json.loads(ack.data)) == (200, "OK", {"opaque": "opaque-123"})


async def test_tickets_are_single_use(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    body = {"clientId": sandbox.client_id, "clientSecret": "sandbox-secret", "subscriptions": []}
    url = f"{sandbox.base_url}/v1.0/gateway/connections/open"
    async with http.post(url, json=body) as response:
        opened = await response.json()
    assert opened["endpoint"] == sandbox.base_url.replace("http", "ws") + "/connect"
    ws_url = f"{opened['endpoint']}?ticket={opened['ticket']}"
    async with http.ws_connect(ws_url):
        await sandbox.wait_connected()
    for ticket in (opened["ticket"], "made-up"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{opened['endpoint']}?ticket={ticket}")
        assert refused.value.status == 401
    assert sandbox.connections_opened == 1


async def test_bad_credentials_are_refused(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    wrong = EndpointStreamClient(
        dingtalk_stream.Credential(sandbox.client_id, "wrong"), sandbox.base_url
    )
    assert wrong.open_connection() is None
    body = {"clientId": sandbox.client_id, "clientSecret": "wrong", "subscriptions": []}
    async with http.post(f"{sandbox.base_url}/v1.0/gateway/connections/open", json=body) as r:
        assert (r.status, (await r.json())["code"]) == (401, "invalidClientIdOrSecret")
    creds = {"appKey": sandbox.client_id, "appSecret": "wrong"}
    async with http.post(f"{sandbox.base_url}/v1.0/oauth2/accessToken", json=creds) as r:
        assert (r.status, (await r.json())["code"]) == (400, "invalidClientIdOrSecret")
    right = EndpointStreamClient(
        dingtalk_stream.Credential(sandbox.client_id, "sandbox-secret"), sandbox.base_url
    )
    assert right.open_connection() is not None
    sandbox.set_client_secret("rotated")
    assert right.open_connection() is None


# -- cards ----------------------------------------------------------------------------------
async def test_card_delivered_clicked_and_response_applied(
    sandbox: DingTalkSandbox, run_client: Runner, http: aiohttp.ClientSession
) -> None:
    handler = CardHandler()
    run_client(sandbox, (CARD_TOPIC, handler))
    await sandbox.wait_connected()
    body = await deliver(http, sandbox, "delivery-1", "manager1")
    assert body["result"]["outTrackId"] == "delivery-1"
    assert body["result"]["deliverResults"][0]["spaceId"] == "manager1"

    result = await sandbox.click("manager1", "delivery-1", {"decision": "approve", "note": "ok"})

    ((_, _, seen),) = handler.seen
    assert (seen.corp_id, seen.user_id, seen.card_instance_id) == (
        "dingcorp_sandbox",
        "manager1",
        "delivery-1",
    )
    assert seen.content["cardPrivateData"] == {
        "actionIds": ["action_button"],
        "params": {"decision": "approve", "note": "ok"},
    }
    assert result.ack.code == 200 and result.deliveries == 1
    assert result.card.params == {"title": "Deploy prod", "status": "approve"}  # merged by key
    assert result.card.private_params == {"myChoice": "approve"}
    assert [v.source for v in result.card.versions] == ["create", "callback"]
    assert sandbox.card("dev2", "delivery-1").private_params == {}  # private to the clicker
    assert sandbox.usage("manager1").cards_created == 1


async def test_create_and_deliver_is_idempotent_per_out_track_id(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    first = await deliver(http, sandbox, "delivery-2", "manager1")
    again = await deliver(http, sandbox, "delivery-2", "manager1")
    assert again == first
    assert [c.out_track_id for c in sandbox.cards("manager1")] == ["delivery-2"]
    assert len(sandbox.cards("manager1")[0].versions) == 1
    assert sandbox.usage("manager1").cards_created == 1


async def test_card_requests_are_validated(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    token = await token_for(http, sandbox)
    path = "/v1.0/card/instances/createAndDeliver"
    not_strings = approval_card("d-3", "manager1")
    not_strings["cardData"] = {"cardParamMap": {"count": 3}}
    unknown_user = approval_card("d-4", "nobody")
    no_model = approval_card("d-5", "manager1")
    del no_model["imRobotOpenDeliverModel"]
    cases = [(not_strings, "InvalidParameter"), (unknown_user, "param.userIdNotExist")]
    cases.append((no_model, "param.openSpaceModelInvalid"))
    for body, code in cases:
        status, error = await call(http, sandbox, "POST", path, body, token)
        assert (status, error["code"]) == (400, code)
    assert sandbox.cards("manager1") == []


async def test_two_step_create_deliver_and_update_semantics(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    token = await token_for(http, sandbox)
    card = approval_card("d-6", "manager1")
    status, created = await call(http, sandbox, "POST", "/v1.0/card/instances", card, token)
    assert (status, created) == (200, {"success": True, "result": "d-6"})
    assert sandbox.cards("manager1") == []  # created, not yet delivered
    status, _ = await call(http, sandbox, "POST", "/v1.0/card/instances/deliver", card, token)
    assert status == 200

    by_key = {
        "outTrackId": "d-6",
        "cardData": {"cardParamMap": {"status": "expired"}},
        "privateData": {"manager1": {"cardParamMap": {"hint": "too late"}}},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
    }
    await call(http, sandbox, "PUT", "/v1.0/card/instances", by_key, token)
    assert sandbox.card("manager1", "d-6").params == {"title": "Deploy prod", "status": "expired"}
    replace = {"outTrackId": "d-6", "cardData": {"cardParamMap": {"status": "cancelled"}}}
    status, body = await call(http, sandbox, "PUT", "/v1.0/card/instances", replace, token)
    assert (status, body) == (200, {"success": True, "result": True})
    now = sandbox.card("manager1", "d-6")
    assert (now.params, now.private_params) == ({"status": "cancelled"}, {"hint": "too late"})
    assert [v.source for v in now.versions] == ["create", "update", "update"]
    assert sandbox.usage("manager1").cards_updated == 2


async def test_click_needs_a_subscribed_client(
    sandbox: DingTalkSandbox, run_client: Runner, http: aiohttp.ClientSession
) -> None:
    run_client(sandbox, (ChatbotMessage.TOPIC, EchoBot()))
    await sandbox.wait_connected()
    await deliver(http, sandbox, "d-7", "manager1")
    with pytest.raises(SandboxError, match="did not subscribe"):
        await sandbox.click("manager1", "d-7", {"decision": "approve"})
    with pytest.raises(SandboxError, match="holds no card"):
        await sandbox.click("dev2", "d-7", {"decision": "approve"})


# -- what is pushed again, and what is not ---------------------------------------------------
class Events(dingtalk_stream.EventHandler):  # type: ignore[misc]
    """Records every EVENT frame it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str]] = []  # (messageId, connectionId, eventId)

    async def process(self, event: dingtalk_stream.EventMessage) -> tuple[int, str]:
        headers = event.headers
        self.seen.append((headers.message_id, headers.connection_id, headers.event_id))
        return AckMessage.STATUS_OK, "OK"


class GatedCardHandler(CardHandler):
    """Answers a click only once the test opens the gate (a decision that is not ready)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    async def process(self, message: dingtalk_stream.CallbackMessage) -> tuple[int, dict[str, Any]]:
        await asyncio.to_thread(self.gate.wait, 10)
        return await super().process(message)


async def test_an_unacked_event_is_pushed_again_after_disconnect(
    sandbox: DingTalkSandbox, run_client: Runner
) -> None:
    events = Events()
    run_client(sandbox, (CARD_TOPIC, CardHandler()), events=events)
    await sandbox.wait_connected()
    sandbox.hold_acks(True)
    pushing = await concurrently(sandbox.push_event("user_add_org", {"userId": ["u1"]}))
    await eventually(lambda: sandbox.acks_dropped == 1)
    sandbox.hold_acks(False)
    await sandbox.disconnect()
    await sandbox.wait_connections(2, timeout=3)
    ack = await pushing

    (first_id, first_conn, event_id), (again_id, again_conn, again_event) = events.seen
    assert first_id == again_id and event_id == again_event and first_conn != again_conn
    assert ack.code == 200


async def test_an_unacked_event_is_pushed_again_on_the_same_connection(
    run_client: Runner,
) -> None:
    sandbox = _sandbox(ack_timeout=0.3)
    try:
        events = Events()
        run_client(sandbox, (CARD_TOPIC, CardHandler()), events=events)
        await sandbox.wait_connected()
        sandbox.hold_acks(True)
        pushing = await concurrently(sandbox.push_event("user_add_org", {"userId": ["u1"]}))
        await eventually(lambda: sandbox.acks_dropped >= 1)
        sandbox.hold_acks(False)
        await pushing
    finally:
        sandbox.stop()
    assert len(events.seen) >= 2 and sandbox.connections_opened == 1
    assert len({message_id for message_id, _, _ in events.seen}) == 1


async def test_a_callback_whose_ack_is_lost_fails_and_is_never_pushed_again(
    sandbox: DingTalkSandbox, run_client: Runner, http: aiohttp.ClientSession
) -> None:
    handler = CardHandler()
    run_client(sandbox, (CARD_TOPIC, handler))
    await sandbox.wait_connected()
    await deliver(http, sandbox, "d-8", "manager1")
    sandbox.hold_acks(True)
    click = await concurrently(sandbox.click("manager1", "d-8", {"decision": "reject"}))
    await eventually(lambda: sandbox.acks_dropped == 1)
    sandbox.hold_acks(False)
    await sandbox.disconnect()
    await sandbox.wait_connections(2, timeout=3)
    result = await click

    assert len(handler.seen) == 1  # a CALLBACK frame goes out once, whatever happens
    assert result.ack is None and result.error is not None and result.deliveries == 1
    assert [v.source for v in result.card.versions] == ["create"]  # the answer never counted
    assert sandbox.callbacks_failed == 1


async def test_a_callback_answered_after_3_s_fails(
    sandbox: DingTalkSandbox, run_client: Runner, http: aiohttp.ClientSession
) -> None:
    handler = GatedCardHandler()
    run_client(sandbox, (CARD_TOPIC, handler))
    await sandbox.wait_connected()
    await deliver(http, sandbox, "d-9", "manager1")
    result = await sandbox.click("manager1", "d-9", {"decision": "approve"})  # no answer in 3 s
    handler.gate.set()  # the answer comes, too late

    assert result.ack is None and result.error is not None
    assert sandbox.card("manager1", "d-9").params["status"] == "pending"
    assert [v.source for v in sandbox.card("manager1", "d-9").versions] == ["create"]
    await eventually(lambda: bool(handler.seen))
    await asyncio.sleep(0.2)  # the late ACK has reached the sandbox by now, and is void
    assert len(handler.seen) == 1 and sandbox.card("manager1", "d-9").params["status"] == "pending"


async def test_abnormal_close_reconnects(sandbox: DingTalkSandbox, run_client: Runner) -> None:
    with sdk_sleeps_scaled(0.01):  # the SDK sleeps 10 s after an abnormal close
        run_client(sandbox, (CARD_TOPIC, CardHandler()))
        await sandbox.wait_connected()
        await sandbox.kill()
        await sandbox.wait_connections(2, timeout=3)
        ack = await sandbox.ping()
    assert ack.code == 200


# -- faults -----------------------------------------------------------------------------------
async def test_throttled_calls_get_the_qps_error(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    token = await token_for(http, sandbox)
    sandbox.throttle(2)
    path = "/v1.0/card/instances/createAndDeliver"
    statuses = []
    for _ in range(3):
        status, body = await call(
            http, sandbox, "POST", path, approval_card("d-10", "manager1"), token
        )
        statuses.append((status, body.get("code")))
    assert statuses == [
        (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"),
        (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"),
        (200, None),
    ]


async def test_a_qps_limit_refuses_calls_over_it_per_api_and_logs_each_answer(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    token = await token_for(http, sandbox)
    sandbox.limit_qps(1)  # one call per API per second: a second one at once is refused
    create, update = "/v1.0/card/instances/createAndDeliver", "/v1.0/card/instances"
    first, _ = await call(http, sandbox, "POST", create, approval_card("d-20", "manager1"), token)
    second, body = await call(
        http, sandbox, "POST", create, approval_card("d-21", "manager1"), token
    )
    update_body = {"outTrackId": "d-20", "cardData": {"cardParamMap": {"state": "approved"}}}
    other, _ = await call(http, sandbox, "PUT", update, update_body, token)
    assert (first, second, body["code"]) == (
        200,
        403,
        "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
    )
    assert other == 200  # the limit is per API
    assert [(m, p, s) for m, p, s, _ in sandbox.calls_log] == [
        ("POST", create, 200),
        ("POST", create, 403),
        ("PUT", update, 200),
    ]


async def test_a_revoked_token_is_refused_as_the_platform_does(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    old = await token_for(http, sandbox)
    sandbox.revoke_token()
    path = "/v1.0/card/instances/createAndDeliver"
    status, body = await call(http, sandbox, "POST", path, approval_card("d-11", "manager1"), old)
    assert (status, body["code"], body["message"]) == (
        400,
        "InvalidAuthentication",
        "不合法的access_token",
    )
    assert body["requestid"]
    fresh = await token_for(http, sandbox)
    assert fresh != old
    status, _ = await call(http, sandbox, "POST", path, approval_card("d-11", "manager1"), fresh)
    assert status == 200
    status, body = await call(http, sandbox, "POST", "/v1.0/im/interactiveCards/send", {}, fresh)
    assert (status, body["code"]) == (404, "NotImplemented")
    status, body = await call(http, sandbox, "POST", "/v1.0/im/interactiveCards/send", {}, old)
    assert (status, body["code"]) == (400, "InvalidAuthentication")


async def test_a_token_lapses_after_7200_s_and_a_fetch_within_renews_it(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    path = "/v1.0/card/instances/createAndDeliver"
    first = await token_for(http, sandbox)
    sandbox.advance_clock(7000)
    assert await token_for(http, sandbox) == first  # the same token, good for 7200 s again
    sandbox.advance_clock(7000)  # 14000 s after the first fetch, 7000 after the renewal
    status, _ = await call(http, sandbox, "POST", path, approval_card("d-30", "manager1"), first)
    assert status == 200
    sandbox.advance_clock(200)  # 7200 s after the renewal: lapsed
    status, body = await call(http, sandbox, "POST", path, approval_card("d-31", "manager1"), first)
    assert (status, body["code"]) == (400, "InvalidAuthentication")
    assert await token_for(http, sandbox) != first
    assert (sandbox.token_fetches, sandbox.tokens_issued) == (3, 2)


async def test_topapi_refuses_a_lapsed_token_with_errcode_88(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    query = {"appkey": sandbox.client_id, "appsecret": "sandbox-secret"}
    async with http.get(f"{sandbox.base_url}/gettoken", params=query) as r:
        got = await r.json()
    assert (got["errcode"], got["expires_in"]) == (0, 7200)
    assert got["access_token"] == await token_for(http, sandbox)  # one token for both APIs
    sandbox.advance_clock(7201)
    url = f"{sandbox.base_url}/topapi/v2/user/getbymobile"
    async with http.post(
        url, params={"access_token": got["access_token"]}, json={"mobile": "13800000001"}
    ) as r:
        answer = await r.json()
    assert (answer["errcode"], answer["sub_code"]) == (88, "40014")


async def test_the_platforms_qps_limit_is_on_by_default(
    sandbox: DingTalkSandbox, http: aiohttp.ClientSession
) -> None:
    token = await token_for(http, sandbox)
    sandbox.freeze_clock()  # every call in the same instant: one second's window
    path = "/v1.0/card/instances/createAndDeliver"
    statuses = [
        (await call(http, sandbox, "POST", path, approval_card(f"q-{i}", "manager1"), token))[0]
        for i in range(21)
    ]
    assert statuses == [200] * 20 + [403]
    url = f"{sandbox.base_url}/topapi/v2/user/getbymobile"
    errcodes = []
    for _ in range(21):
        async with http.post(
            url, params={"access_token": token}, json={"mobile": "13800000001"}
        ) as r:
            errcodes.append((await r.json())["errcode"])
    assert errcodes == [0] * 20 + [90018]
    sandbox.advance_clock(1)  # the next second
    status, _ = await call(http, sandbox, "POST", path, approval_card("q-21", "manager1"), token)
    assert status == 200 and sandbox.qps_refused == 2


async def test_two_sandboxes_at_once(run_client: Runner, http: aiohttp.ClientSession) -> None:
    normal = _sandbox()
    enterprise = _sandbox(client_id="ding_enterprise", client_secret="ent-secret")
    try:
        handlers = CardHandler(), CardHandler()
        run_client(normal, (CARD_TOPIC, handlers[0]))
        run_client(enterprise, (CARD_TOPIC, handlers[1]), secret="ent-secret")
        await normal.wait_connected()
        await enterprise.wait_connected()
        await deliver(http, normal, "d-12", "manager1")
        body = {"appKey": "ding_enterprise", "appSecret": "ent-secret"}
        async with http.post(f"{enterprise.base_url}/v1.0/oauth2/accessToken", json=body) as r:
            token = (await r.json())["accessToken"]
        card = approval_card("d-13", "manager1")
        assert (
            await call(
                http, enterprise, "POST", "/v1.0/card/instances/createAndDeliver", card, token
            )
        )[0] == 200
        await normal.click("manager1", "d-12", {"decision": "approve"})
        await enterprise.click("manager1", "d-13", {"decision": "reject"})
    finally:
        normal.stop()
        enterprise.stop()
    assert [c.card_instance_id for _, _, c in handlers[0].seen] == ["d-12"]
    assert [c.card_instance_id for _, _, c in handlers[1].seen] == ["d-13"]
    assert [c.out_track_id for c in normal.cards("manager1")] == ["d-12"]
    assert [c.out_track_id for c in enterprise.cards("manager1")] == ["d-13"]


# -- messages and directory ---------------------------------------------------------------------
async def test_chatbot_message_and_session_webhook_reply(
    sandbox: DingTalkSandbox, run_client: Runner
) -> None:
    bot = EchoBot()
    run_client(sandbox, (ChatbotMessage.TOPIC, bot))
    await sandbox.wait_connected()
    await sandbox.send_text("dev2", " bind me ")
    (incoming,) = bot.received
    assert (incoming.sender_staff_id, incoming.sender_corp_id) == ("dev2", "dingcorp_sandbox")
    assert (incoming.conversation_type, incoming.sender_nick) == ("1", "Dev Two")
    assert incoming.session_webhook.startswith(sandbox.base_url + "/robot/sendBySession?session=")
    (reply,) = sandbox.messages("dev2")
    assert (reply.kind, reply.msg_key, reply.text) == ("session_reply", "text", "echo: bind me")


class MarkdownBot(dingtalk_stream.ChatbotHandler):  # type: ignore[misc]
    """Answers with the SDK's own two-step card helper (create, then deliver)."""

    async def process(self, message: dingtalk_stream.CallbackMessage) -> tuple[int, str]:
        self.reply_markdown_card("**pending**", ChatbotMessage.from_dict(message.data))
        return AckMessage.STATUS_OK, "OK"


async def test_sdk_card_helper_creates_and_delivers(
    sandbox: DingTalkSandbox, sdk_endpoint: None
) -> None:
    point_sdk_at(sandbox.base_url)  # CardReplier and get_access_token use the module endpoint
    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(sandbox.client_id, "sandbox-secret"), logger=SDK_LOG
    )
    client.register_callback_handler(ChatbotMessage.TOPIC, MarkdownBot())
    runner = SdkThread(client).start()
    try:
        await sandbox.wait_connected()
        await sandbox.send_text("dev2", "status?")
    finally:
        runner.stop()
    (card,) = sandbox.cards("dev2")
    assert card.spaces == ("dtv1.card//IM_ROBOT.dev2",)
    assert card.params["markdown"] == "**pending**"


async def test_robot_batch_send(sandbox: DingTalkSandbox, http: aiohttp.ClientSession) -> None:
    token = await token_for(http, sandbox)
    path = "/v1.0/robot/oToMessages/batchSend"
    message = {
        "robotCode": "ding_sandbox",
        "userIds": ["manager1", "ghost"],
        "msgKey": "sampleMarkdown",
        "msgParam": json.dumps({"title": "t", "text": "Approval needed"}),
    }
    status, body = await call(http, sandbox, "POST", path, message, token)
    assert (status, body["invalidStaffIdList"]) == (200, ["ghost"])
    (received,) = sandbox.messages("manager1")
    assert (received.kind, received.msg_key, received.text) == (
        "robot",
        "sampleMarkdown",
        "Approval needed",
    )
    assert sandbox.usage("manager1").messages_sent == 1
    too_many = {**message, "userIds": [f"u{i}" for i in range(21)]}
    status, body = await call(http, sandbox, "POST", path, too_many, token)
    assert status == 400


async def test_getbymobile(sandbox: DingTalkSandbox, http: aiohttp.ClientSession) -> None:
    token = await token_for(http, sandbox)
    url = f"{sandbox.base_url}/topapi/v2/user/getbymobile"
    answers = []
    for mobile, access_token in [
        ("13800000001", token),
        ("13900000000", token),
        ("13800000001", "bad"),
    ]:
        async with http.post(
            url, params={"access_token": access_token}, json={"mobile": mobile}
        ) as r:
            answers.append(await r.json())
    assert (answers[0]["errcode"], answers[0]["errmsg"]) == (0, "ok")
    assert answers[0]["result"]["userid"] == "manager1"
    assert [a["errcode"] for a in answers[1:]] == [60121, 88]
    assert answers[2]["sub_code"] == "40014"
