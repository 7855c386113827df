"""Org directory, credentials, inboxes and usage of one DingTalk sandbox app.

Written from the sandbox loop (HTTP handlers) and read or faulted from test threads,
so every access goes through one lock.
"""

from __future__ import annotations

import collections
import secrets
import threading
import time
from typing import Any

from sandbox.dingtalk.models import ApiError, SandboxMessage, SandboxUser, Usage

# "获取企业内部应用的accessToken" (open.dingtalk.com/document/orgapp/obtain-orgapp-token): the
# token lives 7200 s (``expireIn``); fetching again while it is valid returns the same token and
# renews it, fetching after it lapsed returns a new one.
TOKEN_TTL = 7200
SESSION_TTL = 5400.0  # sessionWebhooks live about 1.5 h
# "调用频率限制" (open.dingtalk.com/document/orgapp/invocation-frequency-limit; notes: dingtalk.md
# §3.4): a standard-edition org's internal app may call each server API 20 times a second.
PLATFORM_QPS = 20


class SandboxState:
    """Users, the app's access token, fault switches, messages and usage counters."""

    def __init__(self, *, client_id: str, client_secret: str, corp_id: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.corp_id = corp_id
        self._lock = threading.Lock()
        self._users: dict[str, SandboxUser] = {}
        self._messages: dict[str, list[SandboxMessage]] = {}
        self._usage: dict[str, Usage] = {}
        self._sessions: dict[str, tuple[str, float]] = {}
        self._token: tuple[str, float] | None = None  # the app's token and when it lapses
        self.tokens_issued = 0  # distinct tokens minted (a renewal is not one)
        self.token_fetches = 0  # token calls answered with a token
        self._skew = 0.0
        self._frozen: float | None = None  # real time stopped here (None: it runs)
        self._throttled = 0
        self._qps: int | None = PLATFORM_QPS
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.qps_refused = 0

    # -- clock ---------------------------------------------------------------------------
    def now(self) -> float:
        """Sandbox wall clock: real time (unless frozen) plus whatever tests advanced it by."""
        return (time.time() if self._frozen is None else self._frozen) + self._skew

    def freeze(self) -> None:
        """Stop real time: from now on the clock moves only by :meth:`advance`."""
        with self._lock:
            self._frozen = time.time()

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward, so tokens lapse and windows pass without sleeping."""
        with self._lock:
            self._skew += seconds

    # -- directory -------------------------------------------------------------------
    def add_user(self, user: SandboxUser) -> None:
        """Add or replace an org member."""
        with self._lock:
            self._users[user.user_id] = user

    def user(self, user_id: str) -> SandboxUser | None:
        """The member with this userId, if any."""
        with self._lock:
            return self._users.get(user_id)

    def user_by_mobile(self, mobile: str) -> SandboxUser | None:
        """The member with this mobile number, if any."""
        with self._lock:
            return next((u for u in self._users.values() if u.mobile == mobile), None)

    # -- credentials and faults ------------------------------------------------------
    def credentials_ok(self, client_id: object, client_secret: object) -> bool:
        """Whether an AppKey/AppSecret pair belongs to this app."""
        with self._lock:
            return client_id == self.client_id and client_secret == self.client_secret

    def set_client_secret(self, secret: str) -> None:
        """Rotate the AppSecret, as an admin would in the developer console."""
        with self._lock:
            self.client_secret = secret

    def issue_token(self) -> tuple[str, int]:
        """The app's access token and its lifetime: the current one renewed while it is valid,
        else a new one (obtain-orgapp-token)."""
        with self._lock:
            now = self.now()
            self.token_fetches += 1
            if self._token is None or self._token[1] <= now:
                self._token = (secrets.token_hex(16), 0.0)
                self.tokens_issued += 1
            self._token = (self._token[0], now + TOKEN_TTL)
            return self._token[0], TOKEN_TTL

    def token_ok(self, token: str | None) -> bool:
        """Whether ``token`` is the app's current access token and has not lapsed."""
        with self._lock:
            current = self._token
            return (
                token is not None
                and current is not None
                and token == current[0]
                and (self.now() < current[1])
            )

    def revoke_token(self) -> None:
        """Invalidate the current token at once, as a secret reset or a platform-side rotation
        does; the next token call mints a fresh one."""
        with self._lock:
            self._token = None

    def throttle(self, calls: int) -> None:
        """Make the next ``calls`` business API calls fail with a QPS-limit error."""
        with self._lock:
            self._throttled = calls

    def take_throttle(self) -> bool:
        """Consume one throttled call; True if this call must be rejected."""
        with self._lock:
            if self._throttled <= 0:
                return False
            self._throttled -= 1
            return True

    def limit_qps(self, qps: int | None) -> None:
        """Enforce ``qps`` calls per second per API of the app (None: off; on at 20 by default)."""
        with self._lock:
            self._qps = qps

    def note_call(self, api: str) -> bool:
        """Record one call of ``api``; False when it is over the per-API limit in the last second
        (refused calls count too, as the platform counts them)."""
        with self._lock:
            if self._qps is None:
                return True
            now, window = self.now(), self._calls[api]
            while window and now - window[0] >= 1.0:
                window.popleft()
            window.append(now)
            if len(window) > self._qps:
                self.qps_refused += 1
                return False
            return True

    # -- sessions, inboxes, usage ----------------------------------------------------
    def open_session(self, user_id: str) -> str:
        """A new sessionWebhook token that replies into ``user_id``'s robot chat."""
        token = secrets.token_hex(12)
        with self._lock:
            self._sessions[token] = (user_id, self.now() + SESSION_TTL)
        return token

    def session_user(self, token: str) -> str | None:
        """The user a live session token replies to."""
        with self._lock:
            user_id, expires = self._sessions.get(token, ("", 0.0))
        return user_id if user_id and self.now() < expires else None

    def record_message(self, user_id: str, kind: str, key: str, content: dict[str, Any]) -> None:
        """File a message in the user's inbox and count it."""
        message = SandboxMessage(kind, key, content, time.time())
        with self._lock:
            self._messages.setdefault(user_id, []).append(message)
            self._usage.setdefault(user_id, Usage()).messages_sent += 1

    def count_cards(self, user_ids: list[str], *, created: int = 0, updated: int = 0) -> None:
        """Meter card deliveries and updates per receiving user."""
        with self._lock:
            for user_id in user_ids:
                usage = self._usage.setdefault(user_id, Usage())
                usage.cards_created += created
                usage.cards_updated += updated

    def messages(self, user_id: str) -> list[SandboxMessage]:
        """The user's inbox, oldest first."""
        with self._lock:
            return list(self._messages.get(user_id, []))

    def usage(self, user_id: str) -> Usage:
        """A copy of the user's counters."""
        with self._lock:
            return self._usage.get(user_id, Usage()).copy()


def require_user(state: SandboxState, user_id: str) -> SandboxUser:
    """The member, or a 400 ``param.userIdNotExist`` as the platform would answer."""
    user = state.user(user_id)
    if user is None:
        raise ApiError(400, "param.userIdNotExist", f"unknown userId {user_id}")
    return user
