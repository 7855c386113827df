"""DingTalk DING in the sandbox, called over HTTP with aiohttp as the platform documents it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from sandbox.dingtalk.ding import DingSend
from sandbox.dingtalk.sandbox import DingTalkSandbox

PATH = "/v1.0/robot/ding/send"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def sandbox() -> Iterator[DingTalkSandbox]:
    sandbox = DingTalkSandbox()
    sandbox.start()
    for n in range(201):
        sandbox.add_user(f"u{n}", name=f"User {n}")
    yield sandbox
    sandbox.stop()


def ding(sandbox: DingTalkSandbox) -> DingSend:
    return sandbox._api.ding  # the route's own record; the sandbox has no other door to it


@pytest.fixture
async def send(sandbox: DingTalkSandbox) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as http:
        body = {"appKey": sandbox.client_id, "appSecret": "sandbox-secret"}
        async with http.post(f"{sandbox.base_url}/v1.0/oauth2/accessToken", json=body) as r:
            token = (await r.json())["accessToken"]

        async def call(kind: int, receivers: list[str], **extra: Any) -> tuple[int, Any]:
            payload = {
                "robotCode": sandbox.robot_code,
                "remindType": kind,
                "receiverUserIdList": receivers,
                "content": "Please approve T-1",
                **extra,
            }
            headers = {"x-acs-dingtalk-access-token": token}
            async with http.post(sandbox.base_url + PATH, json=payload, headers=headers) as r:
                return r.status, await r.json()

        yield call


def users(count: int) -> list[str]:
    return [f"u{n}" for n in range(count)]


async def test_in_app_ding_reaches_up_to_200(sandbox: DingTalkSandbox, send: Any) -> None:
    status, body = await send(1, users(200))
    assert status == 200 and body["openDingId"]
    [sent] = ding(sandbox).sent
    assert (sent.remind_type, len(sent.receivers)) == (1, 200)
    status, body = await send(1, users(201))
    assert (status, body["code"]) == (400, "invalidParameter.userIds.overMax")


@pytest.mark.parametrize("kind", [2, 3])
async def test_sms_and_phone_need_the_paid_plan_and_take_20(
    sandbox: DingTalkSandbox, send: Any, kind: int
) -> None:
    status, body = await send(kind, users(1))
    assert (status, body["code"]) == (400, "ding.serverquota.insufficient")
    sandbox.paid_plan = True
    assert (await send(kind, users(20)))[0] == 200
    status, body = await send(kind, users(21))
    assert (status, body["code"]) == (400, "invalidParameter.userIds.overMax")
    assert [d.remind_type for d in ding(sandbox).sent] == [kind]


@pytest.mark.parametrize(
    ("kind", "receivers", "extra", "code"),
    [
        (4, ["u1"], {}, "invalidParameter.param.invalid"),
        (1, [], {}, "invalidParameter.userIds.empty"),
        (1, ["nobody"], {}, "invalidParameter.param.invalid"),
        (1, ["u1"], {"robotCode": "other"}, "invalidParameter.robotCode.notExsit"),
        (1, ["u1"], {"content": ""}, "invalidParameter.param.invalid"),
    ],
)
async def test_bad_dings_are_refused(
    sandbox: DingTalkSandbox, send: Any, kind: int, receivers: list[str], extra: Any, code: str
) -> None:
    status, body = await send(kind, receivers, **extra)
    assert (status, body["code"]) == (400, code)
    assert ding(sandbox).sent == []


async def test_a_ding_needs_a_token(sandbox: DingTalkSandbox) -> None:
    async with aiohttp.ClientSession() as http, http.post(sandbox.base_url + PATH, json={}) as r:
        assert r.status in (400, 401)
