"""The Lark/Feishu OpenAPI calls the channel makes, through ``lark_oapi``'s async methods.

Three things the SDK does not do for us:

- the tenant token: the SDK keeps it in ``TokenManager.cache``, a class attribute, and
  ``Client.builder().cache(c)`` *replaces that process-wide* (the last client built wins), and
  its ``a*`` methods fetch a missing token with blocking ``requests`` on the caller's loop. So
  the client runs with ``enable_set_token``; :class:`TenantToken` fetches the token through the
  SDK's own token request, asynchronously, into a cache owned by this app alone;
- rate limits: a limiter per app and per receiving user, paused by a 429's
  ``x-ogw-ratelimit-reset``;
- error mapping onto the outbox's retry rules (:func:`check`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import lark_oapi as lark
from lark_oapi.core.token.access_token_response import AccessTokenResponse
from lark_oapi.core.token.create_self_tenant_token_request import CreateSelfTenantTokenRequest
from lark_oapi.core.token.create_token_request_body import CreateTokenRequestBody

from bot.channels.common.ratelimit import RateLimiter
from bot.errors import ChannelError, ChannelThrottled
from bot.logs import kv

log = logging.getLogger("bot.channels.lark")

RATE_LIMITED = 99991400
USER_RATE_LIMITED = 230020
TOKEN_ERRORS = frozenset({99991661, 99991663, 99991668})
# The receiver is unknown to, or outside the availability of, this app: retrying cannot help.
UNREACHABLE_USER = frozenset({230013, 99992361, 99992364, 230002, 230001})
TOKEN_MARGIN = 600.0  # the SDK's own margin: refresh ten minutes before expiry
TIMEOUT = 10.0


class AppTokenCache(lark.ICache):  # type: ignore[misc]
    """An in-memory ``ICache`` for one app (the SDK's is shared by the whole process)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> str:
        """The value, or "" when missing or expired (what the SDK's LocalCache returns)."""
        value, until = self._values.get(key, ("", 0.0))
        return value if time.time() < until else ""

    def set(self, key: str, value: str, expire: int) -> None:
        """Store ``value`` until the Unix time ``expire``."""
        self._values[key] = (value, float(expire))

    def forget(self, key: str) -> None:
        """Drop ``key`` (the platform refused the token)."""
        self._values.pop(key, None)


class TenantToken:
    """The app's tenant_access_token, fetched through the SDK's token request, cached per app."""

    def __init__(self, client: lark.Client, app_id: str, app_secret: str) -> None:
        self._client = client
        self._app_id = app_id
        self._secret = app_secret
        self._key = f"self_tenant_token:{app_id}"
        self.cache = AppTokenCache()
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid token, fetching one when the cached one is missing or near expiry."""
        async with self._lock:
            token = self.cache.get(self._key)
            if token:
                return token
            return await self._fetch()

    def forget(self) -> None:
        """The platform said the token is invalid: the next call fetches a fresh one."""
        self.cache.forget(self._key)

    async def _fetch(self) -> str:
        body = CreateTokenRequestBody.builder().app_id(self._app_id).app_secret(self._secret)
        request = CreateSelfTenantTokenRequest.builder().request_body(body.build()).build()
        try:
            raw = (await self._client.arequest(request)).raw
        except httpx.HTTPError as exc:
            raise ChannelError(f"tenant token fetch failed: {type(exc).__name__}") from exc
        answer = AccessTokenResponse(_json(raw.content))
        if answer.code != 0 or not answer.tenant_access_token:
            retryable = raw.status_code >= 500 or raw.status_code == 429
            raise ChannelError(f"tenant token refused: code {answer.code}", retryable=retryable)
        expire = int(answer.expire or 0)
        margin = min(TOKEN_MARGIN, expire / 2)
        self.cache.set(self._key, answer.tenant_access_token, int(time.time() + expire - margin))
        log.info("tenant token refreshed", extra=kv(expires_in=expire))
        return str(answer.tenant_access_token)


class Limits:
    """Per-app and per-receiver limiters; a throttle answer pauses the right one."""

    def __init__(self, app_qps: float, user_qps: float) -> None:
        self.app = RateLimiter(app_qps)
        self._user_qps = user_qps
        self._users: dict[str, RateLimiter] = {}

    async def acquire(self, user: str | None) -> None:
        """Wait for a slot of the app and, when the call targets someone, of that user."""
        if user is not None:
            await self.user(user).acquire()
        await self.app.acquire()

    def user(self, user: str) -> RateLimiter:
        """The limiter of one receiver (created on first use)."""
        return self._users.setdefault(user, RateLimiter(self._user_qps))


def build_client(app_id: str, app_secret: str, domain: str) -> lark.Client:
    """An SDK client for one app whose token we pass in on every call."""
    return (
        lark.Client.builder()
        .app_id(app_id)
        .app_secret(app_secret)
        .domain(domain.rstrip("/"))
        .enable_set_token(True)
        .timeout(TIMEOUT)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )


def check(api: str, response: Any, limits: Limits, user: str | None, fallback: float) -> None:
    """Raise the outbox's kind of error for a failed response (``code`` != 0)."""
    raw = response.raw
    status = int(raw.status_code) if raw is not None else 0
    code = response.code if response.code is not None else _json(raw.content).get("code")
    if code == 0 and 200 <= status < 300:
        return
    what = f"{api}: HTTP {status} code {code}"
    if status == 429 or code == RATE_LIMITED:
        wait = _reset_seconds(raw.headers, fallback)
        limits.app.pause(wait)
        log.warning("throttled by Lark", extra=kv(api=api, code=code, retry_after=wait))
        raise ChannelThrottled(what, retry_after=wait)
    if code == USER_RATE_LIMITED and user is not None:
        limits.user(user).pause(fallback)
        raise ChannelThrottled(what, retry_after=fallback)
    if code in UNREACHABLE_USER:
        raise ChannelError(f"{what} (receiver unknown or outside the app's scope)", retryable=False)
    if code in TOKEN_ERRORS:
        raise ChannelError(what, retryable=True)
    raise ChannelError(what, retryable=status >= 500 or status == 0)


def token_refused(response: Any) -> bool:
    """Whether the platform refused the tenant token (fetch a new one and retry)."""
    code = response.code if response.code is not None else _json(response.raw.content).get("code")
    return code in TOKEN_ERRORS


def option(token: str) -> lark.RequestOption:
    """The request option carrying our tenant token."""
    return lark.RequestOption.builder().tenant_access_token(token).build()


def _reset_seconds(headers: dict[str, str] | None, fallback: float) -> float:
    # httpx lower-cases header names; requests keeps the server's spelling.
    for name, value in (headers or {}).items():
        if name.lower() == "x-ogw-ratelimit-reset":
            try:
                return max(float(value), 0.0) or fallback
            except ValueError:
                break
    return fallback


def _json(content: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(content or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
