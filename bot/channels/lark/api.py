"""One Lark/Feishu app's OpenAPI transport: one HTTP session, its tenant token, errors.

The calls go over our own ``aiohttp`` session, one per app, reused for every call (its
connection pool and TLS context), not through ``lark_oapi``'s client: lark-oapi 1.7.5's
``Transport.aexecute`` is a static method that opens a new ``httpx.AsyncClient`` for every call
(a new TLS context each time, about 25 ms of CPU on the event loop) and takes no client of ours.
The OpenAPI's wire format is plain JSON (``{"code", "msg", "data"}``), so nothing of the SDK is
needed on this side, and not loading its ``api`` and ``client`` modules saves most of its memory.

- the tenant token: ``auth/v3/tenant_access_token/internal``, cached per app and refreshed ten
  minutes before expiry, as the SDK does;
- error mapping onto the outbox's retry rules (:func:`check`): a 429 pauses the API's budget
  for ``x-ogw-ratelimit-reset`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.errors import ChannelError, ChannelThrottled, ReceiverUnknown
from bot.logs import kv
from cards.lark import lark_json

log = logging.getLogger("bot.channels.lark")

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
RATE_LIMITED = 99991400
USER_RATE_LIMITED = 230020
TOKEN_ERRORS = frozenset({99991661, 99991663, 99991668})
# Refusals of the card itself that no retry can change (reference/im-v1/message/patch's error
# table): the body is over 30 KB, or the message was sent over 14 days ago.
CONTENT_TOO_LONG = 230025
MESSAGE_TOO_OLD = 230031
FINAL_REFUSALS = {
    CONTENT_TOO_LONG: "the card is over Lark's 30 KB request body",
    MESSAGE_TOO_OLD: "the card was sent over 14 days ago: Lark no longer updates it",
}
# The receiver is unknown to, or outside the availability of, this app: retrying cannot help.
UNREACHABLE_USER = frozenset({230013, 99992361, 99992364, 230002, 230001})
TOKEN_MARGIN = 600.0  # the SDK's own margin: refresh ten minutes before expiry
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Answer:
    """One OpenAPI answer: HTTP status, headers (lower-case names) and the JSON body."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> Any:
        """The platform's ``code`` (0 is success)."""
        return self.body.get("code")

    @property
    def data(self) -> dict[str, Any]:
        """The ``data`` object ({} when absent)."""
        data = self.body.get("data")
        return data if isinstance(data, dict) else {}


class Transport:
    """One app's HTTP session to the OpenAPI (created on first use, on the caller's loop)."""

    def __init__(self, domain: str) -> None:
        self._base = domain.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | bytes | None = None,
    ) -> Answer:
        """One call; ChannelError (retryable) when the network or the answer's JSON fails.

        The body goes out as :func:`cards.lark.lark_json` writes it, the encoding the cards'
        size budget counts on (bytes: already written so).
        """
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = lark_json(body) if isinstance(body, dict) else body
        try:
            async with self._http().request(
                method, self._base + path, params=params, data=data, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
                got = {k.lower(): v for k, v in response.headers.items()}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError(f"{path} failed: {type(exc).__name__}") from exc
        return Answer(status, got, _json(raw))

    async def close(self) -> None:
        """Close the session (a later call opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session


class TenantToken:
    """The app's tenant_access_token, fetched over the app's transport, cached per app."""

    def __init__(self, transport: Transport, app_id: str, app_secret: str) -> None:
        self._transport = transport
        self._body = {"app_id": app_id, "app_secret": app_secret}
        self._token: tuple[str, float] | None = None  # (token, Unix time to refresh at)
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid token, fetching one when the cached one is missing or near expiry."""
        async with self._lock:
            if self._token is not None and time.time() < self._token[1]:
                return self._token[0]
            return await self._fetch()

    def forget(self, refused: str | None = None) -> None:
        """The platform refused ``refused`` (None: whatever is cached): the next call fetches a
        fresh one. A refusal of a token already replaced drops nothing, so calls that went out
        together with the old token lead to one fetch, not one each."""
        if refused is None or (self._token is not None and self._token[0] == refused):
            self._token = None

    async def _fetch(self) -> str:
        try:
            answer = await self._transport.request("POST", TOKEN_PATH, body=self._body)
        except ChannelError as exc:
            raise ChannelError(f"tenant token fetch failed: {exc.message}") from exc
        token = answer.body.get("tenant_access_token")
        if answer.code != 0 or not isinstance(token, str) or not token:
            retryable = answer.status >= 500 or answer.status == 429
            raise ChannelError(f"tenant token refused: code {answer.code}", retryable=retryable)
        expire = int(answer.body.get("expire") or 0)
        margin = min(TOKEN_MARGIN, expire / 2)
        self._token = (token, time.time() + expire - margin)
        log.info("tenant token refreshed", extra=kv(expires_in=expire))
        return token


@dataclass(frozen=True)
class Throttle:
    """What a throttle answer asks for: which budget to pause, and for how long."""

    key: str
    seconds: float


def check(api: str, answer: Answer, *, app_key: str, user_key: str | None, fallback: float) -> None:
    """Raise the outbox's kind of error for a failed answer (``code`` != 0 or a non-2xx).

    A throttle is raised as :class:`Throttled`, naming the budget the caller pauses before the
    job is put back.
    """
    if answer.code == 0 and 200 <= answer.status < 300:
        return
    error = _refusal(api, answer, app_key=app_key, user_key=user_key, fallback=fallback)
    error.platform_code = str(answer.code or answer.status)  # for the error counts
    raise error


def _refusal(
    api: str, answer: Answer, *, app_key: str, user_key: str | None, fallback: float
) -> ChannelError:
    status, code = answer.status, answer.code
    what = f"{api}: HTTP {status} code {code}"
    if status == 429 or code == RATE_LIMITED:
        wait = reset_seconds(answer.headers, fallback)
        log.warning("throttled by Lark", extra=kv(api=api, code=code, retry_after=wait))
        return Throttled(what, Throttle(app_key, wait))
    if code == USER_RATE_LIMITED and user_key is not None:
        return Throttled(what, Throttle(user_key, fallback))
    if code in UNREACHABLE_USER:
        return ReceiverUnknown(f"{what} (receiver unknown or outside the app's scope)")
    if code in TOKEN_ERRORS:
        return ChannelError(what, retryable=True)
    if code in FINAL_REFUSALS:
        return ChannelError(f"{what} ({FINAL_REFUSALS[code]})", retryable=False)
    return ChannelError(what, retryable=status >= 500 or status == 0)


class Throttled(ChannelThrottled):
    """Lark throttled a call; ``throttle`` names the budget to pause."""

    def __init__(self, message: str, throttle: Throttle) -> None:
        super().__init__(message, retry_after=throttle.seconds)
        self.throttle = throttle


def token_refused(answer: Answer) -> bool:
    """Whether the platform refused the tenant token (fetch a new one and retry)."""
    return answer.code in TOKEN_ERRORS


def reset_seconds(headers: dict[str, str], fallback: float) -> float:
    """Seconds until the limit resets, from ``x-ogw-ratelimit-reset`` (else ``fallback``)."""
    value = headers.get("x-ogw-ratelimit-reset")
    if value is None:
        return fallback
    try:
        return max(float(value), 0.0) or fallback
    except ValueError:
        return fallback


def _json(content: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(content or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
