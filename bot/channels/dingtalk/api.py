"""The DingTalk OpenAPI calls the channel makes, over aiohttp on the gateway's loop.

The SDK's own card helpers use blocking ``requests`` and a process-wide endpoint, so they cannot
serve two apps from one process; this client holds one app's credentials, token and send budgets.

Errors map onto the outbox's retry rules: a QPS-limit 403 is :class:`ChannelThrottled` (retried,
never dropped), 5xx and network failures are retryable, a 400 (unknown user, bad template) is not.

The access token lives ``expireIn`` seconds (7200) and is fetched again before that, on
:attr:`OpenApi.clock`. The platform may still stop accepting it sooner (an AppSecret reset, a
rotation on its side): it then answers ``400 InvalidAuthentication`` on api.dingtalk.com and
errcode 88 / sub_code 40014 (or 40014, 42001) on the older topapi, and the call fetches a new
token once and goes again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.channels.common.ratelimit import PACE_WITHIN, SYSTEM_TIMER, Timer, take
from bot.clock import SystemClock
from bot.core.limits import Budget, RateLimits, Window
from bot.core.ports import Clock
from bot.errors import ChannelError, ChannelThrottled, ReceiverUnknown
from bot.logs import kv

log = logging.getLogger("bot.channels.dingtalk")

TOKEN_PATH = "/v1.0/oauth2/accessToken"
TOKEN_MARGIN = 300.0  # refresh five minutes before the platform's expiry, as the SDK does
QPS_LIMIT_PREFIX = "Forbidden.AccessDenied.QpsLimit"
ORG_QUOTA = "Forbidden.AccessDenied.ApiCountLimitForOrg"
ORG_QUOTA_RETRY = 3600.0
USER_NOT_EXIST = "param.userIdNotExist"  # card APIs: the userId is not a member the app sees
OAPI_NO_USER = 60121  # topapi: no member with that mobile (or outside the app's scope)
BAD_TOKEN_CODE = "InvalidAuthentication"  # v1.0: 400 (or 401) for a bad or lapsed token
OAPI_BAD_TOKEN = {40014, 42001}  # topapi: invalid or expired access_token...
OAPI_WRAPPED = 88  # ...or wrapped as errcode 88 with that code as ``sub_code``
TIMEOUT = aiohttp.ClientTimeout(total=10)


class OpenApi:
    """One DingTalk app's v1.0 OpenAPI: one HTTP session, token cache, per-API budget, errors.

    The budgets are a ``RateLimits`` port, the one the composition root chose for every
    channel (kept in the database and shared by the replicas, or this process's own).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        qps: float,
        burst: int = 1,
        per_second: int | None = None,
        retry_after: float,
        limits: RateLimits,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._qps = qps
        self._burst = min(burst, per_second) if per_second is not None else 1
        self._per_second = per_second
        self._retry_after = retry_after
        self.limits = limits
        self.timer: Timer = SYSTEM_TIMER  # the clock ``limits`` grants slots by
        self.clock: Clock = SystemClock()  # the clock the token's lifetime is counted on
        self._token: tuple[str, float] | None = None  # (token, Unix time to fetch again at)
        self._token_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Create the HTTP session (on the caller's loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self, method: str, path: str, body: dict[str, Any], *, within: float = PACE_WITHIN
    ) -> dict[str, Any]:
        """A v1.0 call with the access-token header; on a refused token, one new token and
        one more try. ``within``: how long it may wait for its slot before being put back."""
        budget, windows = self.budgets(path)
        for attempt in (1, 2):
            await take(
                self.limits, budget, what=path, timer=self.timer, windows=windows, within=within
            )
            token = await self._access_token()
            status, answer = await self._request(method, path, body, token)
            if attempt == 1 and _token_refused(status, answer):
                self._forget_token(token, path, str(answer.get("code", status)))
                continue
            return await self._check(path, status, answer, budget)
        raise AssertionError("unreachable")  # pragma: no cover

    async def oapi(self, base: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A topapi call (token in the query, errors as ``errcode``); None when no such user."""
        budget, windows = self.budgets(path)
        for attempt in (1, 2):
            await take(self.limits, budget, what=path, timer=self.timer, windows=windows)
            token = await self._access_token()
            url = f"{base.rstrip('/')}{path}?access_token={token}"
            answer = await self._post(url, body, path)
            errcode = answer.get("errcode")
            if attempt == 1 and _oapi_token_refused(answer):
                self._forget_token(token, path, f"{errcode}/{answer.get('sub_code', '')}")
                continue
            if errcode == OAPI_NO_USER:
                return None
            if errcode != 0:
                raise ChannelError(f"{path}: {errcode} {answer.get('errmsg', '')}", retryable=False)
            result = answer.get("result")
            return result if isinstance(result, dict) else {}
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, url: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            async with self._http().post(url, json=body) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"{what} failed: {type(exc).__name__}") from exc
        return answer if isinstance(answer, dict) else {}

    async def post_webhook(self, url: str, body: dict[str, Any]) -> None:
        """POST to a sessionWebhook (it carries its own credential in the URL)."""
        try:
            async with self._http().post(url, json=body) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"session reply failed: {type(exc).__name__}") from exc
        if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
            raise ChannelError(f"session reply refused: {answer}", retryable=False)

    async def check(self) -> None:
        """Fetch a fresh access token: proves the app key and secret work."""
        await self.open()
        self._token = None
        await self._access_token()

    # -- token ---------------------------------------------------------------------------
    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._now() < self._token[1]:
                return self._token[0]
            body = {"appKey": self._client_id, "appSecret": self._secret}
            status, answer = await self._request("POST", TOKEN_PATH, body, None)
            token, expire_in = answer.get("accessToken"), answer.get("expireIn")
            if status != 200 or not isinstance(token, str) or not isinstance(expire_in, int):
                raise ChannelError(f"access token refused: {status} {answer.get('code')}")
            margin = min(TOKEN_MARGIN, expire_in / 2)
            self._token = (token, self._now() + expire_in - margin)
            log.info("access token fetched", extra=kv(expires_in=expire_in))
            return token

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _forget_token(self, token: str, api: str, code: str) -> None:
        # Only the token that was refused: a call that failed with an older one must not
        # throw away the fresh token another call already fetched.
        log.info("access token refused; fetching a new one", extra=kv(api=api, code=code))
        if self._token is not None and self._token[0] == token:
            self._token = None

    # -- transport -----------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise ChannelError("the DingTalk API client is not open", retryable=False)
        return self._session

    async def _request(
        self, method: str, path: str, body: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["x-acs-dingtalk-access-token"] = token
        try:
            async with self._http().request(
                method, self._base + path, json=body, headers=headers
            ) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"{path} failed: {type(exc).__name__}") from exc
        return status, answer if isinstance(answer, dict) else {}

    def budgets(self, path: str) -> tuple[Budget, tuple[Window, ...]]:
        """The app's budgets of the API at ``path``: the pace (with its burst), and the window
        that holds the burst to ``per_second`` calls in any span that many take at the pace."""
        # "20 QPS per app per API": each path of the app has its own budgets.
        key = f"dingtalk:{self._client_id}:api:{path}"
        pace = Budget(key, self._qps, self._burst)
        if self._per_second is None or self._burst == 1:
            return pace, ()  # the pace alone spaces any per_second calls as the window would
        return pace, (Window(f"{key}:second", self._per_second, self._per_second / self._qps),)

    async def _check(
        self, path: str, status: int, answer: dict[str, Any], budget: Budget
    ) -> dict[str, Any]:
        if 200 <= status < 300:
            return answer
        code = str(answer.get("code", ""))
        error = await self._refusal(path, status, code, answer, budget)
        error.platform_code = code or str(status)  # for the error counts
        raise error

    async def _refusal(
        self, path: str, status: int, code: str, answer: dict[str, Any], budget: Budget
    ) -> ChannelError:
        what = f"{path}: {status} {code} {answer.get('message', '')}".strip()
        if status == 403 and code.startswith(QPS_LIMIT_PREFIX):
            # Past the burst's tolerance too, or its first calls would go inside the pause.
            await self.limits.pause(budget.key, self._retry_after + budget.tolerance)
            log.warning("throttled by DingTalk", extra=kv(api=path, code=code))
            return ChannelThrottled(what, retry_after=self._retry_after)
        if status == 403 and code == ORG_QUOTA:
            return ChannelThrottled(what, retry_after=ORG_QUOTA_RETRY)
        if status == 400 and code == USER_NOT_EXIST:
            return ReceiverUnknown(what)
        # A token refused again right after a fresh one was fetched is not the request's fault:
        # the outbox tries later rather than give the card up.
        retryable = status in (408, 429) or status >= 500 or _token_refused(status, answer)
        return ChannelError(what, retryable=retryable)


def _token_refused(status: int, answer: dict[str, Any]) -> bool:
    # api.dingtalk.com answers a bad or lapsed token with 400 InvalidAuthentication; a 401 is
    # taken the same way.
    return status == 401 or (status == 400 and answer.get("code") == BAD_TOKEN_CODE)


def _oapi_token_refused(answer: dict[str, Any]) -> bool:
    errcode = answer.get("errcode")
    if errcode == OAPI_WRAPPED:
        return str(answer.get("sub_code", "")) in {str(c) for c in OAPI_BAD_TOKEN}
    return errcode in OAPI_BAD_TOKEN
