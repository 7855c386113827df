"""A click the store cannot record (its PostgreSQL database down, a full disk) is answered in time with
"not recorded, try again in a moment", and the card keeps its buttons; once the database is
back, a tap on the same card decides. Through the real SDKs against the sandbox platforms."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import button_values
from tests.channels.dingtalk.test_stream import FAST_DINGTALK, card_of
from tests.channels.dingtalk.test_stream import platform as dingtalk
from tests.channels.dingtalk.test_stream import submit as submit_dingtalk
from tests.channels.lark.test_stream import FAST_LARK
from tests.channels.lark.test_stream import platform as lark
from tests.channels.lark.test_stream import submit as submit_lark
from tests.conftest import fast_settings
from tests.faults.disk import fill
from tests.faults.postgres_down import database_down
from tests.gateway.helpers import eventually
from tests.store.engines import postgres_database

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]
EN = "Your choice was not recorded; please try again in a moment."
ZH = "你的审批意见未能记录，请稍后再试。"
RECORDED = "Thanks — your decision was recorded."


@pytest.fixture
def db_url() -> Iterator[str]:
    with postgres_database("gw_click") as url:
        yield url


async def _gateway(tmp_path: Path, db_url: str, **channel: Any) -> Embedded:
    return await start(fast_settings(tmp_path / "data", database_url=db_url, **channel))


async def _ready(embedded: Embedded) -> bool:
    async with (
        aiohttp.ClientSession() as http,
        http.get(embedded.gateway.url + "/readyz") as response,
    ):
        return response.status == 200


@pytest.fixture
async def lk(tmp_path: Path, db_url: str) -> AsyncIterator[Embedded]:
    embedded = await _gateway(tmp_path, db_url, sandbox_platforms=["lark"], lark=FAST_LARK)
    try:
        await lark(embedded).app().wait_connected()
        yield embedded
    finally:
        await embedded.stop()


@pytest.fixture
async def dt(tmp_path: Path, db_url: str) -> AsyncIterator[Embedded]:
    embedded = await _gateway(
        tmp_path,
        db_url,
        sandbox_platforms=["dingtalk"],
        dingtalk=FAST_DINGTALK,
        dingtalk_enterprise=FAST_DINGTALK,
    )
    try:
        for sandbox in dingtalk(embedded).sandboxes.values():
            await sandbox.wait_connected()
        yield embedded
    finally:
        await embedded.stop()


async def test_a_lark_click_the_store_cannot_record_says_so_and_leaves_the_card_usable(
    lk: Embedded, db_url: str
) -> None:
    ann = await lk.seat("lark", "a1", "Ann")
    cards = await submit_lark(lk, "LK-DOWN", [ann])
    message = lark(lk).message_of(ann, cards["a1"])
    value = next(v for v in button_values(message.content) if v.get("action") == "approve")
    async with database_down(db_url):
        result = await lark(lk).app().click(ann.address, message.message_id, value)
        assert not result.failed, result  # answered in time, not the client's timeout
        assert result.toast == {"type": "error", "content": EN, "i18n": {"en_us": EN, "zh_cn": ZH}}
        assert result.card is None  # the card is left as it was
    assert lark(lk).card_state(ann, cards["a1"]) == "pending"
    assert any(True for _ in button_values(lark(lk).message_of(ann, cards["a1"]).content))
    await eventually(lambda: _ready(lk), within=30)

    again = await lark(lk).click(ann, cards["a1"], ClickAction.APPROVE)
    assert (again.toast, again.card_state) == (RECORDED, "approved")


async def test_a_dingtalk_click_the_store_cannot_record_says_so_and_leaves_the_card_usable(
    dt: Embedded, db_url: str
) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    cards = await submit_dingtalk(dt, "DT-DOWN", [ann])
    async with database_down(db_url):
        outcome = await dingtalk(dt).click(ann, cards["a1"], ClickAction.APPROVE)
        assert not outcome.failed, outcome  # answered in time, with a notice
        assert outcome.toast == f"{EN} {ZH}"
    card = card_of(dt, ann, cards["a1"])
    assert card.params["state"] == "pending" and card.params["showActions"] != "false"
    assert card.private_params["noticeKind"] == "error"
    await eventually(lambda: _ready(dt), within=30)

    again = await dingtalk(dt).click(ann, cards["a1"], ClickAction.APPROVE)
    assert (again.toast, again.card_state) == (RECORDED, "approved")


async def test_a_click_on_a_full_disk_says_not_recorded_and_decides_once_space_is_back(
    small_disk: Path,
) -> None:
    settings = fast_settings(small_disk / "data", sandbox_platforms=["lark"], lark=FAST_LARK)
    embedded = await start(settings)
    try:
        await lark(embedded).app().wait_connected()
        ann = await embedded.seat("lark", "a1", "Ann")
        cards = await submit_lark(embedded, "LK-FULL", [ann])
        filler = fill(small_disk)
        outcome = await lark(embedded).click(ann, cards["a1"], ClickAction.APPROVE)
        assert not outcome.failed, outcome
        assert (outcome.toast, outcome.card_state) == (EN, "pending")
        os.unlink(filler)

        again = await lark(embedded).click(ann, cards["a1"], ClickAction.APPROVE)
        assert (again.toast, again.card_state) == (RECORDED, "approved")
    finally:
        await embedded.stop()
