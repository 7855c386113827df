"""The sandbox pages support uses, in a real Chromium at a phone's width.

The mail page shows what the catcher received with each HTML body drawn in a sandboxed frame
(no script runs, whatever the ticket said); the email approver's phone links to it; the
DingTalk card has DingTalk's own look; and every page fits a 360 px screen. Screenshots land in
``.venv/artifacts/phone/`` for review (see tests/browser/__init__.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.embedded import Embedded, start
from sandbox.phone.page import phone_url
from sandbox.tickets import approver, sample_ticket
from tests.browser import ARTIFACTS_ROOT
from tests.browser.test_preview import Tab, tab
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace

pytestmark = pytest.mark.browser
__all__ = ["tab"]  # the fixture, shared with the preview tests

ARTIFACTS = ARTIFACTS_ROOT / "phone"
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk", "lark", "mail"])
    embedded = await start(settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


async def _pending_everywhere(stack: Embedded) -> None:
    """A ticket with hostile text to every sandbox user, once every card and mail is out."""
    assert stack.backend is not None
    approvers = [
        approver(s.account_id, s.display_name, "role" if s.channel == "email" else "main")
        for s in stack.seats
    ]
    for seat in stack.seats:
        await stack.seat(seat.channel, seat.account_id, seat.display_name)  # bound, as the demo
    ticket = sample_ticket("SANDBOX-1", approvers)
    ticket["title"] = "Add index `idx_created_at` " + HOSTILE
    ticket["summary"] = "Scans the full `orders` table; <b>not bold</b>"
    status, _ = await stack.backend.submit(ticket)
    assert status == 202

    async def sent() -> bool:
        body = await trace(stack.backend, "SANDBOX-1")  # type: ignore[arg-type]
        return all(d["state"] == "sent" for d in body["deliveries"])

    await eventually(sent)


async def _fits(tab: Tab, name: str) -> None:
    """The page has no sideways scroll at the tab's width; a screenshot for the eye."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await tab.page.screenshot(path=str(ARTIFACTS / f"{name}.360.png"), full_page=True)
    width = await tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{name}: {width}px wide on a 360px screen"


async def test_the_mail_page_draws_caught_mail_inert_and_phones_link_to_it(
    sandbox: Embedded, tab: Tab
) -> None:
    await _pending_everywhere(sandbox)
    page = tab.page
    await page.set_viewport_size({"width": 360, "height": 740})
    email = next(s for s in sandbox.seats if s.channel == "email")
    await page.goto(phone_url(sandbox.gateway.url, email.account_id))
    await _fits(tab, "email-phone")
    async with page.expect_navigation():
        await page.click("#screen-email .mailbox a")
    assert "/sandbox/mail?to=" in page.url
    mail = page.locator("article.mail")
    assert await mail.count() == 1
    assert "idx_created_at" in await mail.locator(".mail-subject").inner_text()
    frame = page.frame_locator("iframe.mail-frame")
    body = await frame.locator("body").inner_text()
    assert "<script>window.pwned = 1</script>" in body  # shown as characters
    assert await frame.locator("script, img[src=x]").count() == 0
    assert await page.locator("iframe.mail-frame").get_attribute("sandbox") == ""
    assert await page.evaluate("typeof window.pwned") == "undefined"
    await _fits(tab, "mail")
    assert tab.errors == []


async def test_phone_pages_fit_360px_and_dingtalk_looks_like_dingtalk(
    sandbox: Embedded, tab: Tab
) -> None:
    await _pending_everywhere(sandbox)
    page = tab.page
    await page.set_viewport_size({"width": 360, "height": 740})
    await page.goto(f"{sandbox.gateway.url}/sandbox/phone")
    await _fits(tab, "index")
    for channel in ("lark", "dingtalk"):
        seat = next(s for s in sandbox.seats if s.channel == channel)
        await page.goto(phone_url(sandbox.gateway.url, seat.account_id))
        await _fits(tab, f"{channel}-phone")
        card = page.locator(f"#screen-{channel} .phone-card")
        assert await card.count() == 1
        # Inline code in ticket text is drawn as code, not as backticks; tags stay text.
        markdown = card.locator(".phone-markdown").first
        assert await markdown.locator("code.phone-code").all_inner_texts() == ["orders"]
        assert "<b>not bold</b>" in await markdown.inner_text()
    await page.goto(phone_url(sandbox.gateway.url, "staff2001"))
    ding = page.locator(".phone-card")
    assert await ding.get_attribute("class") == "phone-card phone-dingtalk"
    # DingTalk draws its own card: a white header with a coloured status, and full-width
    # buttons side by side at the bottom, not Lark's coloured header band.
    header_bg = await ding.locator(".phone-header").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert header_bg == "rgb(255, 255, 255)"
    await asyncio.sleep(0)
    assert tab.errors == []
