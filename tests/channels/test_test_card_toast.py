"""A test card's toast speaks the card's language, on every sandbox platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.models import ClickAction
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.gateway.admin import call, token

ZH_TEST_TOAST = "测试卡片：未提交任何审批。"


@pytest.fixture
async def chats(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk", "lark", "memory"])
    embedded = await start(settings)
    ding = embedded.platform_of("dingtalk")
    assert isinstance(ding, DingTalkPlatform)
    await ding.sandboxes["dingtalk"].wait_connected()
    yield embedded
    await embedded.stop()


@pytest.mark.parametrize(("locale", "expected"), [("zh-CN", ZH_TEST_TOAST), ("en-US", "Test card")])
async def test_the_test_cards_toast_is_in_the_cards_language(
    chats: Embedded, locale: str, expected: str
) -> None:
    support = await token(chats.gateway, "support")
    for channel in ("lark", "dingtalk", "memory"):
        seat = await chats.seat(channel, f"t-{channel}", "Tess")
        body = {"channel": channel, "account_id": seat.account_id, "locale": locale}
        status, sent = await call(chats.gateway, "POST", "/v1/cards/test", support, body)
        assert status == 202, (channel, sent)
        platform = chats.platform_of(channel)
        outcome = await platform.click(seat, sent["delivery_id"], ClickAction.TEST)
        assert expected in outcome.toast, (channel, outcome.toast)
