"""The /preview page in a real Chromium: every card drawn, bad input explained, ticket text inert.

Driven through Playwright's async API against Debian's chromium (Playwright's own browser
download cannot work offline). Screenshots land in ``.venv/artifacts/preview/`` for review (see
tests/browser/__init__.py).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from cards import CardState, Locale, sample_view
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.browser import ARTIFACTS_ROOT
from tests.conftest import fast_settings

pytestmark = pytest.mark.browser

ARTIFACTS = ARTIFACTS_ROOT / "preview"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INTERACTIVE = {CardState.PENDING, CardState.TEST}


def chromium_path() -> str | None:
    """Debian's chromium: $CHROMIUM_PATH (set by scripts/test), else the one on PATH."""
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@dataclass
class Tab:
    """A page plus every console error and uncaught exception it produced."""

    page: Any
    errors: list[str] = field(default_factory=list)


@pytest.fixture
async def tab() -> AsyncIterator[Tab]:
    path = chromium_path()
    if not path:
        pytest.skip(
            "NO CHROMIUM: browser tests need Debian's chromium (apt-get install chromium, "
            "or run scripts/test as root) or CHROMIUM_PATH pointing at a Chromium binary"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 800})
        found = Tab(page)
        page.on("console", lambda m: found.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: found.errors.append(f"uncaught: {exc}"))
        try:
            yield found
        finally:
            await browser.close()


def _url(stack: object) -> str:
    assert isinstance(stack, Embedded)
    return f"{stack.gateway.url}/preview"


async def _shot(tab: Tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def _raw(tab: Tab, channel: str) -> dict[str, Any]:
    text = await tab.page.locator(f"#phone-{channel} details.raw pre").text_content()
    payload: dict[str, Any] = json.loads(text or "")
    return payload


async def _check_drawn(tab: Tab, state: CardState, title: str) -> None:
    """Both phones and the email show ``title``, drawn from the payload next to them."""
    page = tab.page
    for channel in ("lark", "dingtalk"):
        card = page.locator(f"#phone-{channel} .phone-card")
        assert title in await card.locator(".phone-title").inner_text()
        assert await page.locator(f"#phone-{channel} .check").get_attribute("data-ok") == "true"
        inputs = await card.locator("textarea.phone-input").count()
        assert (inputs > 0) == (state in INTERACTIVE), (channel, state)
    lark, ding = await _raw(tab, "lark"), await _raw(tab, "dingtalk")
    subtitle = page.locator("#phone-lark .phone-subtitle")
    assert await subtitle.inner_text() == lark["header"]["subtitle"]["content"]
    assert await page.locator("#phone-dingtalk .phone-subtitle").inner_text() == ding["statusText"]
    assert ding["state"] == state.value
    assert await page.locator("#email .check").get_attribute("data-ok") == "true"
    email = page.frame_locator("iframe.email-frame").locator("body")
    assert title in await email.inner_text()


async def test_every_state_and_locale_draws_on_every_platform(stack: object, tab: Tab) -> None:
    for locale in Locale:
        for state in CardState:
            query = f"?state={state.value}&locale={locale.value}"
            response = await tab.page.goto(_url(stack) + query)
            assert response is not None and response.status == 200
            await _check_drawn(tab, state, sample_view(state, locale).title)
            await _shot(tab, f"{state.value}.{locale.value}")
    assert tab.errors == []


async def test_the_form_switches_state_and_locale(stack: object, tab: Tab) -> None:
    await tab.page.goto(_url(stack))
    await tab.page.select_option("select[name=state]", "rejected")
    await tab.page.select_option("select[name=locale]", "en-US")
    await tab.page.click("button[value=sample]")
    title = sample_view(CardState.REJECTED, Locale.EN_US).title
    await _check_drawn(tab, CardState.REJECTED, title)
    assert await tab.page.locator("select[name=state]").input_value() == "rejected"
    assert tab.errors == []


async def _paste(tab: Tab, stack: object, text: str, *, channel: str = "all") -> None:
    await tab.page.goto(_url(stack))
    await tab.page.click("details.paste summary")
    await tab.page.select_option("select[name=channel]", channel)
    await tab.page.fill("textarea[name=ticket]", text)
    await tab.page.click("button[value=pasted]")


async def test_pasted_invalid_json_is_explained_on_the_page(stack: object, tab: Tab) -> None:
    await _paste(tab, stack, '{"ticket_id": "T-1", oops')
    error = tab.page.locator("#error")
    assert "not valid JSON" in await error.inner_text()
    assert await tab.page.locator(".phone-card").count() == 0  # no sample passed off as theirs
    # The text comes back for fixing.
    assert await tab.page.input_value("textarea[name=ticket]") == '{"ticket_id": "T-1", oops'
    await _shot(tab, "invalid-json")

    broken = sample_ticket("T-BROKEN", [approver("a1", "Ann")])
    del broken["submitter"]
    await _paste(tab, stack, json.dumps(broken))
    text = await error.inner_text()
    assert "not a valid approval request" in text and "submitter" in text


async def test_hostile_ticket_text_renders_as_text(stack: object, tab: Tab) -> None:
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    ticket = sample_ticket("T-EVIL", [approver("a1", '</div><b id="boom">Eve</b>')])
    ticket["title"] = hostile
    ticket["fields"].append({"name": "<i>note</i>", "value": "</textarea></pre><h1>hi</h1>"})
    await _paste(tab, stack, json.dumps(ticket))
    page = tab.page
    assert await page.locator("#error").count() == 0
    for channel in ("lark", "dingtalk"):
        title = await page.locator(f"#phone-{channel} .phone-title").inner_text()
        assert "<script>window.pwned = 1</script>" in title  # shown as characters
    # None of it became markup: no script or img anywhere, no h1 or injected element in main.
    injected = "script, img, main h1, #boom, main i"
    assert await page.locator(injected).count() == 0
    email = page.frame_locator("iframe.email-frame")
    assert "<script>" in await email.locator("body").inner_text()
    assert await email.locator(injected).count() == 0
    assert await page.evaluate("typeof window.pwned") == "undefined"
    await _shot(tab, "hostile")
    assert tab.errors == []  # a blocked script would show up here as a CSP error


async def test_preview_needs_a_support_token_outside_the_sandbox(tmp_path: Path) -> None:
    # Outside the sandbox a deployment needs a real channel; nothing is sent in this test.
    settings = fast_settings(
        tmp_path / "d",
        sandbox=False,
        backend_url="http://127.0.0.1:9/",
        email={"host": "127.0.0.1"},
    )
    stack = await start(settings)
    try:
        url = _url(stack)
        token = new_token()
        now = datetime.now(UTC)
        await TokenStore(stack.gateway.store).create(token, "support", "preview", now)
        async with aiohttp.ClientSession() as s:
            async with s.get(url) as r:
                assert r.status == 401
            async with s.get(url, headers={"authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
                assert "phone-card" in await r.text()
    finally:
        await stack.stop()
