"""Support's browser sign-in: a support or admin token traded for a session cookie.

The cookie never holds the token. It holds the token's *id*, an absolute expiry and a random
CSRF secret, sealed (AES-GCM) under the master key with :class:`bot.secrets.SecretBox`, the box
that seals everything else at rest. Sealing rather than a session table: nothing to migrate or
sweep, every replica opens the same cookie, and a forged or edited cookie does not open. Every
page load looks the token up by id, so revoking the token ends each session made from it at
once, on every replica. Sign-out clears the cookie in the browser; a copy taken before that
lives until its expiry (:data:`SESSION_HOURS`) unless the token is revoked (README).

The cookie is ``HttpOnly`` (no script reads it; none runs anyway), ``SameSite=Strict`` (no other
site's page sends it) and ``Secure``, except on plain-http loopback (``http://127.0.0.1``,
``localhost``), where a browser would drop a ``Secure`` cookie and local use would break.

CSRF: every form of a signed-in page carries the session's CSRF secret (a synchronizer token
bound to the session); a form POST without it, or with another session's, is refused with 403.
The sign-in form, before any session exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, wraps
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from bot.core.storage import ApiToken, Sealed
from bot.errors import StoreError
from bot.http.auth import Principal, Role
from bot.http.deps import DEPS, HttpDeps
from bot.http.pages import html_page
from bot.http.spec import OPEN, Answer, operation
from bot.secrets import SecretBox, new_key

COOKIE = "agw_session"
SIGNIN_COOKIE = "agw_signin"  # the sign-in form's double-submit CSRF value
SEALED_AS = "support-session"  # the AEAD's associated data: a cookie opens as nothing else
SESSION_HOURS = 8  # one working day; absolute, not sliding
SIGNIN_PATH = "/signin"
SIGNOUT_PATH = "/signout"
PAGE_ROLES = (Role.SUPPORT, Role.ADMIN)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

routes = web.RouteTableDef()


@dataclass(frozen=True)
class Caller:
    """Who is looking at a support page: ``csrf`` is what its forms must carry ("" when the
    caller holds no ambient credential: a bearer token, or the open embedded sandbox)."""

    principal: Principal | None
    csrf: str = ""


PageHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


def support_page(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Guard a support page: a bearer token (API clients, as before) or a session cookie; a
    browser without either gets the sign-in form, a form POST without the CSRF token a 403."""

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        deps = request.app[DEPS]
        if deps.preview_open:
            return await handler(request, Caller(None))
        if "authorization" in request.headers or not _wants_html(request):
            return await handler(request, Caller(await deps.auth.person(request, *PAGE_ROLES)))
        session = await open_session(request)
        if session is None:
            return signin_page(request, next_url=_here(request), status=401)
        if request.method == "POST" and not await _csrf_ok(request, session.csrf):
            return _refused()
        return await handler(request, session)

    return guarded


async def open_session(request: web.Request) -> Caller | None:
    """The caller of a valid, unexpired session on a live support/admin token, or None."""
    deps = request.app[DEPS]
    fields = _unseal(_box(deps), request.cookies.get(COOKIE, ""))
    if fields is None or fields["exp"] <= deps.clock.now().timestamp():
        return None
    token = await _live_token(deps, fields["tid"])
    if token is None or token.role not in PAGE_ROLES:
        return None
    return Caller(Principal(role=Role(token.role), name=token.id), csrf=fields["csrf"])


def signin_page(
    request: web.Request, *, next_url: str = "/preview", status: int = 200, error: str = ""
) -> web.Response:
    """The sign-in form, with a fresh double-submit CSRF value in a cookie and the form."""
    nonce = secrets.token_urlsafe(24)
    response = html_page(
        "signin.html.j2", status, no_store=True, next_url=next_url, csrf=nonce, error=error
    )
    _set_cookie(request, response, SIGNIN_COOKIE, nonce, max_age=3600)
    return response


class SignInQuery(BaseModel):
    """The query of ``GET /signin``: where to go once signed in (a path on this gateway)."""

    next: str | None = None


class SignInForm(SignInQuery):
    """The sign-in form: a support or admin token, and the form's CSRF value."""

    token: str
    csrf: str


class SignOutForm(BaseModel):
    """The sign-out form: the session's CSRF token."""

    csrf: str


_PAGE = [Answer(200, None, "the sign-in form", media="text/html")]


@routes.get(SIGNIN_PATH)
@operation(
    "getSignIn",
    "support",
    "The sign-in form of the support pages (HTML)",
    OPEN,
    query=SignInQuery,
    answers=_PAGE,
)
async def signin_get(request: web.Request) -> web.Response:
    """The sign-in form."""
    return signin_page(request, next_url=_safe_next(request.query.get("next", "")))


@routes.post(SIGNIN_PATH)
@operation(
    "signIn",
    "support",
    "Trade a support or admin token for a session cookie (HTML form)",
    OPEN,
    body=SignInForm,
    body_media="application/x-www-form-urlencoded",
    answers=[
        Answer(303, None, "signed in: on to the page asked for", media="text/html"),
        Answer(401, None, "the form again, naming the refusal", media="text/html"),
        Answer(403, None, "the form again: its CSRF value was missing or stale", media="text/html"),
    ],
)
async def signin_post(request: web.Request) -> web.Response:
    """Trade a support or admin token for a session cookie, then go where the form says."""
    form = await request.post()
    next_url = _safe_next(_text(form, "next"))
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, _text(form, "csrf")):
        return signin_page(request, next_url=next_url, status=403, error=_EXPIRED)
    deps = request.app[DEPS]
    token = await deps.auth.tokens.resolve(_text(form, "token").strip())
    if token is None or token.role not in PAGE_ROLES:
        error = "That token is unknown, revoked, or not a support or admin token."
        return signin_page(request, next_url=next_url, status=401, error=error)
    response = _see_other(next_url)
    _set_cookie(request, response, COOKIE, _seal(deps, token), max_age=SESSION_HOURS * 3600)
    response.del_cookie(SIGNIN_COOKIE, path="/")
    return response


@routes.post(SIGNOUT_PATH)
@operation(
    "signOut",
    "support",
    "End this browser's session (HTML form)",
    OPEN,
    body=SignOutForm,
    body_media="application/x-www-form-urlencoded",
    answers=[
        Answer(303, None, "signed out: on to the sign-in form", media="text/html"),
        Answer(403, None, "the CSRF token was missing or wrong", media="text/html"),
    ],
)
async def signout(request: web.Request) -> web.StreamResponse:
    """End the browser's session (the form carries the session's CSRF token)."""
    session = await open_session(request)
    if session is not None and not await _csrf_ok(request, session.csrf):
        return _refused()
    response = _see_other(SIGNIN_PATH)
    response.del_cookie(COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- the cookie


def _seal(deps: HttpDeps, token: ApiToken) -> str:
    expires = deps.clock.now() + timedelta(hours=SESSION_HOURS)
    fields = {"tid": token.id, "exp": int(expires.timestamp()), "csrf": secrets.token_urlsafe(24)}
    sealed = _box(deps).seal(SEALED_AS, json.dumps(fields).encode())
    return f"{sealed.key_id}.{base64.urlsafe_b64encode(sealed.blob).decode().rstrip('=')}"


def _unseal(box: SecretBox, cookie: str) -> dict[str, Any] | None:
    key_id, _, blob = cookie.partition(".")
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        fields = json.loads(box.open(SEALED_AS, Sealed(key_id, raw)))
    except (binascii.Error, ValueError, StoreError):
        return None  # forged, edited, or sealed under a key this gateway no longer holds
    ok = isinstance(fields, dict) and {"tid", "exp", "csrf"} <= fields.keys()
    return fields if ok else None


def _box(deps: HttpDeps) -> SecretBox:
    # Without a master key (a bare test app) sessions last as long as this process.
    return deps.box if deps.box is not None else _process_box()


@cache
def _process_box() -> SecretBox:
    return SecretBox([new_key()])


async def _live_token(deps: HttpDeps, token_id: str) -> ApiToken | None:
    # Tokens are people, a handful per deployment: the list is short.
    tokens = await deps.auth.tokens.list()
    return next((t for t in tokens if t.id == token_id and t.revoked_at is None), None)


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=not _plain_loopback(request),
    )


def _plain_loopback(request: web.Request) -> bool:
    """Plain http to a loopback name from a loopback peer: the only place Secure is left off.

    Behind a TLS proxy the Host header names the public site, so the cookie stays Secure there.
    """
    host = (request.url.host or "").strip("[]")
    return not request.secure and host in LOOPBACK and request.remote in LOOPBACK


# --------------------------------------------------------------------------- helpers

_EXPIRED = "The form expired or did not come from this gateway. Please sign in again."


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    form = await request.post()
    return hmac.compare_digest(expected.encode(), _text(form, "csrf").encode())


def _refused() -> web.Response:
    return html_page("refused.html.j2", 403, no_store=True)


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _here(request: web.Request) -> str:
    return request.path_qs if request.method == "GET" else request.path


def _safe_next(value: str) -> str:
    # Only a path on this gateway: an open redirect would make the sign-in form a phishing aid.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/preview"
    return quote(value, safe="/?&=%:+,;-_.~")


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"location": location, "cache-control": "no-store"})
