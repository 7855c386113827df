"""The preview after the browser's own navigation: what the controls say is what is drawn.

Back after a form post must not leave the controls showing the posted choice over the page of
the earlier one, and the email frame is drawn on every load, never left blank.
"""

from __future__ import annotations

import pytest

from cards import CardState, Locale, sample_view
from sandbox.embedded import Embedded
from tests.browser.test_preview import Tab, tab

pytestmark = pytest.mark.browser
__all__ = ["tab"]  # the fixture, shared with the preview tests


async def _email_title(tab: Tab) -> str:
    body: str = await tab.page.frame_locator("iframe.email-frame").locator("body").inner_text()
    return body


async def test_back_after_a_post_shows_matching_controls_and_email(stack: object, tab: Tab) -> None:
    assert isinstance(stack, Embedded)
    page = tab.page
    await page.goto(f"{stack.gateway.url}/preview?locale=en-US")
    pending = sample_view(CardState.PENDING, Locale.EN_US).title
    assert pending in await _email_title(tab)
    await page.select_option("select[name=state]", "rejected")
    async with page.expect_navigation():
        await page.click("button[value=sample]")
    assert await page.locator("select[name=state]").input_value() == "rejected"
    assert "Rejected" in await page.locator("#phone-lark .phone-subtitle").inner_text()

    await page.go_back()
    await page.wait_for_load_state()
    assert pending in await _email_title(tab)
    # The page drawn is the pending one: so must the controls be.
    assert await page.locator("select[name=state]").input_value() == "pending"
    assert tab.errors == []
