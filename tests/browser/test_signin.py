"""Support signs in from a real Chromium: token in, cookie session out, CSRF on every form.

Outside the embedded sandbox ``/preview`` needs a support or admin token. A browser gets the
sign-in form; the session it then holds ends when the token is revoked, and a form posted
without the session's CSRF token is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.embedded import Embedded, start
from tests.browser.test_preview import Tab, tab
from tests.conftest import fast_settings

pytestmark = pytest.mark.browser
__all__ = ["tab"]  # the fixture, shared with the preview tests


@pytest.fixture
async def closed(tmp_path: Path) -> AsyncIterator[Embedded]:
    """A deployment with the sandbox off: /preview is not open to everyone."""
    settings = fast_settings(
        tmp_path / "d",
        sandbox=False,
        backend_url="http://127.0.0.1:9/",
        email={"host": "127.0.0.1"},
    )
    stack = await start(settings)
    try:
        yield stack
    finally:
        await stack.stop()


async def _token(stack: Embedded, role: str = "support") -> tuple[str, str]:
    token = new_token()
    record = await TokenStore(stack.gateway.store).create(token, role, "browser", datetime.now(UTC))
    return token, record.id


async def _sign_in(tab: Tab, url: str, token: str) -> None:
    response = await tab.page.goto(url)
    assert response is not None and response.status == 401
    assert await tab.page.locator("form#signin").count() == 1
    await tab.page.fill("input[name=token]", token)
    async with tab.page.expect_navigation():
        await tab.page.click("form#signin button[type=submit]")


async def test_sign_in_preview_then_revoke_asks_again(closed: Embedded, tab: Tab) -> None:
    token, token_id = await _token(closed)
    url = f"{closed.gateway.url}/preview?state=approved&locale=en-US"
    await _sign_in(tab, url, token)
    page = tab.page
    assert page.url == url  # back where the browser was going
    assert await page.locator("#phone-lark").count() == 1
    assert token_id in await page.locator("form.signout").inner_text()

    (cookie,) = [c for c in await page.context.cookies() if c["name"] == "agw_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http on 127.0.0.1 only; anywhere else it is Secure
    assert token not in cookie["value"] and token_id not in cookie["value"]

    # A signed-in form post works (it carries the CSRF token).
    await page.select_option("select[name=state]", "rejected")
    async with page.expect_navigation() as nav:
        await page.click("button[value=sample]")
    assert (await nav.value).status == 200
    assert await page.locator("select[name=state]").input_value() == "rejected"

    await TokenStore(closed.gateway.store).revoke(token_id, datetime.now(UTC))
    response = await page.goto(url)
    assert response is not None and response.status == 401
    assert await page.locator("form#signin").count() == 1
    assert await page.locator("#phone-lark").count() == 0
    assert all("status of 401" in e for e in tab.errors)  # the sign-in page itself, nothing else


async def test_a_form_post_without_the_csrf_token_is_refused(closed: Embedded, tab: Tab) -> None:
    token, _ = await _token(closed, "admin")
    await _sign_in(tab, f"{closed.gateway.url}/preview", token)
    page = tab.page
    # What a cross-site forger can send: the same form without this session's token.
    await page.evaluate("document.querySelector('form.controls input[name=csrf]').remove()")
    await page.select_option("select[name=state]", "rejected")
    async with page.expect_navigation() as nav:
        await page.click("button[value=sample]")
    assert (await nav.value).status == 403
    assert "not acted on" in await page.locator("#refused").inner_text()
    assert await page.locator("#phone-lark").count() == 0


async def test_sign_out_ends_the_session(closed: Embedded, tab: Tab) -> None:
    token, _ = await _token(closed)
    url = f"{closed.gateway.url}/preview"
    await _sign_in(tab, url, token)
    async with tab.page.expect_navigation():
        await tab.page.click("form.signout button")
    assert tab.page.url.endswith("/signin")
    response = await tab.page.goto(url)
    assert response is not None and response.status == 401


async def test_a_wrong_token_is_explained(closed: Embedded, tab: Tab) -> None:
    await _sign_in(tab, f"{closed.gateway.url}/preview", "agw_not-a-token")
    assert "unknown, revoked" in await tab.page.locator("#signin-error").inner_text()
    assert await tab.page.locator("form#signin").count() == 1
