"""Support's browser session over plain HTTP: what the cookie is, when it stops working.

The browser flow itself is in ``tests/browser/test_signin.py``; here the edges: the cookie is
``Secure`` unless the gateway is reached over plain http on loopback, a forged or expired cookie
is no session, the sign-in form has its own CSRF check and redirects only within the gateway,
and API clients keep their bearer tokens and JSON answers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.http.auth import new_token
from bot.http.session import SESSION_HOURS
from bot.store.tokens import TokenStore
from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.support.clock import MovableClock

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def closed(tmp_path: Path, clock: MovableClock) -> AsyncIterator[Embedded]:
    settings = fast_settings(
        tmp_path / "d",
        sandbox=False,
        backend_url="http://127.0.0.1:9/",
        email={"host": "127.0.0.1"},
    )
    stack = await start(settings, clock=clock)
    try:
        yield stack
    finally:
        await stack.stop()


async def _token(stack: Embedded, role: str = "support") -> str:
    token = new_token()
    await TokenStore(stack.gateway.store).create(token, role, "http", datetime.now(UTC))
    return token


async def _sign_in(
    s: aiohttp.ClientSession, url: str, token: str, *, host: str | None = None, next_url: str = ""
) -> aiohttp.ClientResponse:
    # Cookies travel by hand: a client jar would rightly not send a Secure one over http.
    headers = {**HTML, **({"host": host} if host else {})}
    async with s.get(f"{url}/signin", headers=headers) as r:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        double = r.cookies["agw_signin"].value
    assert csrf is not None
    form = {"token": token, "csrf": csrf.group(1), "next": next_url or "/preview"}
    headers["cookie"] = f"agw_signin={double}"
    async with s.post(f"{url}/signin", data=form, headers=headers, allow_redirects=False) as r:
        await r.read()
        return r


def _jar() -> aiohttp.DummyCookieJar:
    return aiohttp.DummyCookieJar()


def _with(session: str) -> dict[str, str]:
    return {**HTML, "cookie": f"agw_session={session}"}


async def test_the_cookie_is_secure_unless_plain_http_on_loopback(closed: Embedded) -> None:
    url, token = closed.gateway.url, await _token(closed)
    async with aiohttp.ClientSession(cookie_jar=_jar()) as s:
        r = await _sign_in(s, url, token)
        local = r.headers["set-cookie"]
        r = await _sign_in(s, url, token, host="gateway.corp.example")
        public = ";".join(r.headers.getall("set-cookie"))
    assert r.status == 303
    for header in (local, public):
        assert "agw_session=" in header and "HttpOnly" in header and "SameSite=Strict" in header
        assert token not in header
    assert "Secure" not in local
    assert re.search(r"agw_session=[^,]*Secure", public), public


async def test_a_forged_or_expired_cookie_is_no_session(
    closed: Embedded, clock: MovableClock
) -> None:
    url, token = closed.gateway.url, await _token(closed)
    async with aiohttp.ClientSession(cookie_jar=_jar()) as s:
        signed_in = await _sign_in(s, url, token)
        assert signed_in.status == 303
        good = signed_in.cookies["agw_session"].value
        async with s.get(f"{url}/preview", headers=_with(good)) as r:
            assert r.status == 200
        key_id, _, blob = good.partition(".")
        forged = f"{key_id}.{blob[:-4]}{'B' if blob[-4] == 'A' else 'A'}AAA"
        for cookie in (forged, "x", f"{key_id}.", "not.base64!!"):
            async with s.get(f"{url}/preview", headers=_with(cookie)) as r:
                assert r.status == 401 and 'id="signin"' in await r.text()
        clock.advance(SESSION_HOURS * 3600 + 1)
        async with s.get(f"{url}/preview", headers=_with(good)) as r:
            assert r.status == 401 and 'id="signin"' in await r.text()


async def test_the_sign_in_form_checks_its_own_csrf_and_redirects_only_here(
    closed: Embedded,
) -> None:
    url, token = closed.gateway.url, await _token(closed)
    async with aiohttp.ClientSession(cookie_jar=_jar()) as s:
        form = {"token": token, "csrf": "guessed", "next": "/preview"}
        async with s.post(f"{url}/signin", data=form, headers=HTML, allow_redirects=False) as r:
            assert r.status == 403
            assert "agw_session" not in r.cookies
        r = await _sign_in(s, url, token, next_url="//evil.example/")
        assert r.status == 303 and r.headers["location"] == "/preview"


async def test_api_clients_keep_bearer_tokens_and_json(closed: Embedded) -> None:
    url, token = f"{closed.gateway.url}/preview", await _token(closed)
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            assert r.status == 401
            assert (await r.json())["error"]["message"] == "missing bearer token"
        bearer = {"authorization": f"Bearer {token}", **HTML}
        async with s.get(url, headers=bearer) as r:
            assert r.status == 200 and "phone-lark" in await r.text()
        # A bearer caller holds no ambient credential: its form posts need no CSRF token.
        async with s.post(url, data={"state": "rejected"}, headers=bearer) as r:
            assert r.status == 200
