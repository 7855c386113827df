"""``bindings lookup``: the running gateway asks Lark and DingTalk (their sandboxes) for a user.

The gateway runs on the test's loop; the CLI is a subprocess talking to it over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.bindings import BindingStore
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from tests.conftest import fast_settings
from tests.http.test_bindings_api import _call, _token


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await start(fast_settings(tmp_path / "data", sandbox_platforms=["lark", "dingtalk"]))
    try:
        ding = stack.platform_of("dingtalk")
        lark = stack.platform_of("lark")
        assert isinstance(ding, DingTalkPlatform) and isinstance(lark, LarkPlatform)
        ding.sandboxes["dingtalk"].add_user("staff-mobile", name="Mo", mobile="13800001111")
        ding.sandboxes["dingtalk_enterprise"].add_user("ent-9", name="En", mobile="13900009999")
        lark.app().add_user("ou_lena", name="Lena", email="lena@corp.example")
        yield stack
    finally:
        await stack.stop()


async def _lookup(stack: Embedded, token: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "APPROVAL_GATEWAY_ADMIN_TOKEN": token}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "bindings",
        "lookup",
        "--url",
        stack.gateway.url,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_lookup_proposes_and_applies(chat: Embedded) -> None:
    token, token_id = await _token(chat, "admin")
    code, out, err = await _lookup(chat, token, "--lark-email", "lena@corp.example")
    assert code == 0, err
    assert out.splitlines() == ["ACCOUNT\tlark\tou_lena"] and "not applied" in err
    assert await BindingStore(chat.gateway.store).get("acc-l") == []

    code, out, err = await _lookup(chat, token, "--dingtalk-mobile", "13800001111")
    assert code == 0 and out.splitlines()[0] == "ACCOUNT\tdingtalk\tstaff-mobile", err
    code, out, err = await _lookup(
        chat,
        token,
        "--dingtalk-mobile",
        "13900009999",
        "--channel",
        "dingtalk_enterprise",
        "--apply",
        "acc-e",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "acc-e\tdingtalk_enterprise\tent-9",
        "bound acc-e on dingtalk_enterprise",
    ]
    bound = await BindingStore(chat.gateway.store).get("acc-e")
    assert [(b.channel, b.address, b.bound_by) for b in bound] == [
        ("dingtalk_enterprise", "ent-9", token_id)
    ]


async def test_lookup_of_nobody_and_refusals(chat: Embedded) -> None:
    admin, _ = await _token(chat, "admin")
    support, _ = await _token(chat, "support")
    code, _, err = await _lookup(chat, admin, "--lark-email", "ghost@corp.example")
    assert code == 1 and "no lark user found" in err
    code, _, err = await _lookup(chat, admin, "--dingtalk-mobile", "13000000000")
    assert code == 1 and "no dingtalk user found" in err
    code, _, err = await _lookup(chat, support, "--lark-email", "lena@corp.example")
    assert code == 2 and "403" in err  # support may not propose bindings
    body = {"lark_email": "lena@corp.example", "dingtalk_mobile": "13800001111"}
    status, _ = await _call(chat, "POST", "/v1/bindings/lookup", admin, body)
    assert status == 422
    status, _ = await _call(
        chat,
        "POST",
        "/v1/bindings/lookup",
        admin,
        {"lark_email": "x@y.example", "channel": "dingtalk"},
    )
    assert status == 422  # DingTalk has no email lookup
