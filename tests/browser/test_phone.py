"""The sandbox phone in a real Chromium: taps go through the platforms' real callback protocols.

Two approvers, one on the sandbox DingTalk and one on the sandbox Lark, get a ticket's cards. On
the DingTalk approver's phone a Reject without a reason is refused; with a reason exactly one
decision reaches the sandbox backend and both phones redraw the card as rejected. Screenshots
land in ``.venv/artifacts/phone/`` (see tests/browser/__init__.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.embedded import Embedded, start
from sandbox.phone.page import phone_url
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.browser import ARTIFACTS_ROOT
from tests.browser.test_preview import Tab, tab
from tests.conftest import fast_settings

pytestmark = pytest.mark.browser
__all__ = ["tab"]  # the fixture, shared with the preview tests

ARTIFACTS = ARTIFACTS_ROOT / "phone"
WAIT = 15.0
REASON_REQUIRED = "Please enter a reason to reject."


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk", "lark"])
    embedded = await start(settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


async def _until(what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        if value := await probe():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _ticket(stack: Embedded, seats: list[Seat]) -> None:
    assert stack.backend is not None
    approvers = [approver(s.account_id, s.display_name) for s in seats]
    status, _ = await stack.backend.submit(sample_ticket("PHONE-1", approvers))
    assert status == 202

    async def delivered() -> bool:
        return all(stack.platform_of(s.channel).held(s) for s in seats)

    await _until("both cards", delivered)


async def _shot(tab: Tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _state_on_phone(tab: Tab, url: str) -> str:
    await tab.page.goto(url)
    card = tab.page.locator(".held .phone-card").first
    return await card.locator(".phone-subtitle").inner_text()


async def test_reject_needs_a_reason_then_decides_once(phones: Embedded, tab: Tab) -> None:
    ding = await phones.seat("dingtalk", "2001", "Li Na")
    lark = await phones.seat("lark", "2002", "Wang Wei")
    await _ticket(phones, [ding, lark])
    assert phones.backend is not None
    page = tab.page
    await page.set_viewport_size({"width": 460, "height": 900})
    url = phone_url(phones.gateway.url, ding.address)
    await page.goto(url)
    assert await page.locator(".held").count() == 1
    await _shot(tab, "pending")

    await page.click(".held button[value=reject]")  # no reason typed
    assert await page.locator("#toast").inner_text() == REASON_REQUIRED
    assert page.url.startswith(url)  # redirected back to the phone
    await asyncio.sleep(0.3)
    assert phones.backend.decisions == []
    await _shot(tab, "reason-required")

    await page.fill(".held textarea[name=comment]", "not during the sale")
    await page.click(".held button[value=reject]")
    assert "reason" not in (await page.locator("#toast").inner_text()).lower()
    decision = await phones.backend.wait_for_decision("PHONE-1", 15)
    assert decision.body["decision"] == "rejected"
    assert decision.body["comment"] == "not during the sale"

    ding_phone, lark_phone = url, phone_url(phones.gateway.url, lark.account_id)
    for where in (ding_phone, lark_phone):

        async def rejected(where: str = where) -> bool:
            return "reject" in (await _state_on_phone(tab, where)).lower()

        await _until(f"rejected on {where}", rejected)
        assert await page.locator(".held textarea").count() == 0  # no more buttons to press
        await _shot(tab, "rejected-" + where.rsplit("/", 1)[-1])
    await asyncio.sleep(0.3)
    assert len(phones.backend.decisions) == 1
    assert tab.errors == []


async def test_index_lists_every_seat_and_unknown_users_are_404(phones: Embedded, tab: Tab) -> None:
    await phones.seat("dingtalk", "2001", "Li Na")
    await phones.seat("lark", "2002", "Wang Wei")
    response = await tab.page.goto(f"{phones.gateway.url}/sandbox/phone")
    assert response is not None and response.status == 200
    text = await tab.page.locator("table.seats").inner_text()
    assert "staff2001" in text and "ou_2002" in text
    await tab.page.click("text=Wang Wei")
    assert await tab.page.locator("#screen-lark .empty").inner_text() == "No cards yet."
    async with aiohttp.ClientSession() as s:
        async with s.get(phone_url(phones.gateway.url, "nobody")) as r:
            assert r.status == 404
        form = {"ref": "nope", "action": "approve"}
        click = phone_url(phones.gateway.url, "2001") + "/click"
        async with s.post(click, data=form, allow_redirects=False) as r:
            assert r.status == 303
            assert "not+on+this+phone" in r.headers["location"]
    assert tab.errors == []
