"""``cards send-test``: a test card reaches the account through the real channel, and its
buttons answer with a toast only — nothing is decided or forwarded."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.models import ClickAction
from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from tests.conftest import fast_settings
from tests.gateway.admin import call, token


@pytest.fixture
async def ding(tmp_path: Path) -> AsyncIterator[Embedded]:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"]))
    platform = embedded.platforms[0]
    assert isinstance(platform, DingTalkPlatform)
    await platform.sandboxes["dingtalk"].wait_connected()
    yield embedded
    await embedded.stop()


async def _send_test(embedded: Embedded, token_file: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "cards",
        "send-test",
        *args,
        "--url",
        embedded.gateway.url,
        "--token-file",
        str(token_file),
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def _token(embedded: Embedded, role: str, path: Path) -> Path:
    token = new_token()
    await TokenStore(embedded.gateway.store).create(token, role, "t", datetime.now(UTC))
    await asyncio.to_thread(path.write_text, token)
    return path


async def test_a_test_card_arrives_and_its_buttons_only_answer(
    ding: Embedded, tmp_path: Path
) -> None:
    seat = await ding.seat("dingtalk", "acc-9", "Nine")
    token = await _token(ding, "support", tmp_path / "support.token")
    code, out = await _send_test(ding, token, "--channel", "dingtalk", "--to", "acc-9")
    assert code == 0, out
    delivery_id = out.split("(delivery ")[1].rstrip(")\n")
    platform = ding.platform_of("dingtalk")
    assert platform.card_state(seat, delivery_id) == "test"
    outcome = await platform.click(seat, delivery_id, ClickAction.APPROVE)
    assert "Test card" in outcome.toast
    await asyncio.sleep(0.3)
    assert ding.backend is not None and ding.backend.attempts == []


async def test_send_test_needs_a_bound_account_and_a_token(ding: Embedded, tmp_path: Path) -> None:
    token = await _token(ding, "support", tmp_path / "support.token")
    code, out = await _send_test(ding, token, "--channel", "dingtalk", "--to", "nobody")
    assert code == 2 and "not bound on dingtalk" in out
    bad = tmp_path / "bad.token"
    await asyncio.to_thread(bad.write_text, "agw_not-a-token")
    code, out = await _send_test(ding, bad, "--channel", "dingtalk", "--to", "nobody")
    assert code == 2 and "401" in out


async def test_a_revoked_channel_sends_no_test_card(ding: Embedded, tmp_path: Path) -> None:
    seat = await ding.seat("dingtalk", "acc-9", "Nine")
    admin = await _token(ding, "admin", tmp_path / "admin.token")
    support = await _token(ding, "support", tmp_path / "support.token")
    code, out = await _channels(ding, admin, "revoke", "dingtalk")
    assert code == 0, out

    code, out = await _send_test(ding, support, "--channel", "dingtalk", "--to", "acc-9")

    assert code == 2 and "409" in out and "dingtalk is not authorized" in out, out
    assert ding.platform_of("dingtalk").held(seat) == []  # nothing reached the platform


async def _channels(embedded: Embedded, token_file: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "channels",
        *args,
        "--url",
        embedded.gateway.url,
        "--token-file",
        str(token_file),
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_a_revoked_lark_channel_sends_no_test_card(tmp_path: Path) -> None:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["lark"]))
    try:
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        seat = await embedded.seat("lark", "acc-7", "Seven")
        gateway = embedded.gateway
        support, admin = await token(gateway, "support"), await token(gateway, "admin")
        assert (await call(gateway, "DELETE", "/v1/channels/lark/authorization", admin))[0] == 200

        body = {"channel": "lark", "account_id": "acc-7"}
        status, answer = await call(gateway, "POST", "/v1/cards/test", support, body)

        assert status == 409 and "lark is not authorized" in answer["error"]["message"]
        assert platform.app().cards(seat.address) == []
    finally:
        await embedded.stop()
