"""State of the Lark sandbox tenant: users, the messages they hold, tokens.

Pure bookkeeping without I/O. The aiohttp handlers call it from the sandbox thread and
tests call it from theirs, so every public method takes one lock and never awaits.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.lark.models import (
    MessageVersion,
    SandboxMessage,
    SandboxUser,
    Usage,
    VersionSource,
)

# Error codes. 99991400, 99991661, 99991663 and 99991668 are the platform's documented generic
# codes (server-docs/api-call-guide/generic-error-code: a missing or malformed token, an
# invalid tenant token, an invalid or expired token); 230013 is what im/v1/messages answers
# when the receiver is outside the bot's availability ("Bot has NO availability to this
# user") - the platform does not tell "no such user" apart from "out of scope", so neither
# does the sandbox. 10003/10014 are the auth endpoint's "invalid app_id" / "app secret
# invalid". 230025 (content too long) and 230031 (message too old to update) are read from
# the error table of reference/im-v1/message/patch. The others follow the platform's
# numbering but were not checked against a live tenant.
RATE_LIMITED = 99991400
TOKEN_MISSING = 99991661
TOKEN_INVALID = 99991663
TOKEN_EXPIRED = 99991668
FIELD_INVALID = 99992402
INVALID_PARAM = 230001
USER_OUT_OF_SCOPE = 230013
USER_RATE_LIMITED = 230020
CARD_CONTENT_ERROR = 230099
CONTENT_TOO_LONG = 230025
MESSAGE_TOO_OLD = 230031
APP_ID_INVALID = 10003
APP_SECRET_INVALID = 10014
CARD_TOKEN_INVALID = 200740

TOKEN_TTL = 7200
TOKEN_RENEW_BEFORE = 1800  # the platform hands out a new token in the last 30 minutes
UUID_WINDOW = 3600  # "at most one message per uuid within one hour"
CARD_TOKEN_TTL = 1800
# "仅支持更新 14 天内发送的消息" (reference/im-v1/message/patch; feishu-cards/update-feishu-card:
# a card can be updated within 14 days of being sent).
UPDATE_WINDOW = 14 * 24 * 3600
RECEIVE_ID_TYPES = ("open_id", "user_id", "union_id", "email", "chat_id")


@dataclass(frozen=True)
class Window:
    """A rate limit: at most ``calls`` in any ``seconds``, counted over a sliding window (every
    span of that length, not clock-aligned buckets)."""

    calls: int
    seconds: float


class ApiError(Exception):
    """An OpenAPI error answer: HTTP status plus the platform's ``code``/``msg`` envelope."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg


@dataclass
class _Message:
    message_id: str
    user: SandboxUser
    sender: str
    msg_type: str
    uuid: str | None
    versions: list[MessageVersion]

    def snapshot(self) -> SandboxMessage:
        return SandboxMessage.model_validate(
            {
                "message_id": self.message_id,
                "open_id": self.user.open_id,
                "chat_id": self.user.chat_id,
                "sender": self.sender,
                "msg_type": self.msg_type,
                "uuid": self.uuid,
                "versions": tuple(self.versions),
            }
        )


@dataclass
class _CardToken:
    message_id: str
    issued_at: float
    uses: int = 0
    answered: bool = False  # the callback it came with was answered (or its 3 s ran out)


@dataclass
class _Counters:
    created: int = 0
    patched: int = 0
    callback_updates: int = 0
    delayed_updates: int = 0


@dataclass
class LarkStore:
    """Users, messages and tokens of one sandbox app; thread-safe."""

    card_token_uses: int = 2
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _skew: float = 0.0
    _frozen: float | None = None  # real time stopped here (None: it runs)
    _users: dict[str, SandboxUser] = field(default_factory=dict)
    _messages: dict[str, _Message] = field(default_factory=dict)
    _by_uuid: dict[str, tuple[str, float]] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    _issued_count: int = 0
    _card_tokens: dict[str, _CardToken] = field(default_factory=dict)
    _counters: defaultdict[str, _Counters] = field(default_factory=lambda: defaultdict(_Counters))
    _sends: defaultdict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        """Sandbox wall clock: real time (unless frozen) plus whatever tests advanced it by."""
        return (time.time() if self._frozen is None else self._frozen) + self._skew

    def freeze(self) -> None:
        """Stop real time: from now on the clock moves only by :meth:`advance`."""
        with self._lock:
            self._frozen = time.time()

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward, so expiry windows pass without sleeping."""
        with self._lock:
            self._skew += seconds

    # -- users ---------------------------------------------------------------------------

    def add_user(self, user: SandboxUser) -> None:
        """Register (or replace) a user of the tenant."""
        with self._lock:
            self._users[user.open_id] = user

    def find_user(self, id_type: str, value: str) -> SandboxUser | None:
        """Look a user up by any ID type the OpenAPI accepts; None when out of scope."""
        with self._lock:
            for user in self._users.values():
                if id_type == "chat_id" and user.chat_id == value:
                    return user
                if id_type != "chat_id" and getattr(user, id_type, None) == value:
                    return user
        return None

    def user(self, open_id: str) -> SandboxUser:
        """The user with this open_id; KeyError when unknown."""
        with self._lock:
            return self._users[open_id]

    # -- tenant access tokens ------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        """Return a valid token and its remaining lifetime, renewing in the last 30 min."""
        with self._lock:
            now = self.now()
            for token, expiry in self._tokens.items():
                if expiry - now > TOKEN_RENEW_BEFORE:
                    return token, int(expiry - now)
            token = "t-" + secrets.token_hex(16)
            self._tokens[token] = now + TOKEN_TTL
            self._issued_count += 1
            return token, TOKEN_TTL

    def check_token(self, authorization: str | None) -> None:
        """Raise the platform's error for a missing, unknown or expired bearer token.

        A token lapses ``expire`` (7200 s) after it was issued, by the sandbox clock
        (auth-v3/auth/tenant_access_token_internal: "最大有效期是 2 小时"); the platform answers
        such calls with HTTP 400 and a non-zero code, and the caller fetches a new token.
        """
        if not authorization or not authorization.startswith("Bearer t-"):
            raise ApiError(400, TOKEN_MISSING, "Missing access token for authorization.")
        with self._lock:
            expiry = self._tokens.get(authorization.removeprefix("Bearer "))
            if expiry is None:  # never issued, or revoked
                raise ApiError(400, TOKEN_INVALID, "Invalid access token for authorization.")
            if expiry <= self.now():
                raise ApiError(400, TOKEN_EXPIRED, "The access token has expired.")

    def revoke_tokens(self) -> None:
        """Invalidate every tenant token issued so far (as when the app secret is reset)."""
        with self._lock:
            self._tokens.clear()

    @property
    def tokens_issued(self) -> int:
        """Distinct tenant tokens handed out so far (revoked ones included)."""
        return self._issued_count

    # -- messages ------------------------------------------------------------------------

    def create_message(
        self, user: SandboxUser, msg_type: str, content: dict[str, Any], uuid: str | None
    ) -> tuple[SandboxMessage, bool]:
        """Store a bot message; returns it and whether it is new (False: uuid replay)."""
        with self._lock:
            now = self.now()
            if uuid:
                seen = self._by_uuid.get(uuid)
                if seen is not None and now - seen[1] < UUID_WINDOW:
                    return self._messages[seen[0]].snapshot(), False
            msg = self._new_message(user, "bot", msg_type, uuid, content, now)
            if uuid:
                self._by_uuid[uuid] = (msg.message_id, now)
            self._counters[user.open_id].created += 1
            return msg.snapshot(), True

    def record_user_message(self, user: SandboxUser, text: str) -> SandboxMessage:
        """Store a text the user wrote to the bot, so the phone page shows the thread."""
        with self._lock:
            return self._new_message(
                user, "user", "text", None, {"text": text}, self.now()
            ).snapshot()

    def _new_message(
        self,
        user: SandboxUser,
        sender: str,
        msg_type: str,
        uuid: str | None,
        content: dict[str, Any],
        now: float,
    ) -> _Message:
        message_id = "om_" + secrets.token_hex(16)
        version = MessageVersion(content=content, source="create", at=now)
        msg = _Message(message_id, user, sender, msg_type, uuid, [version])
        self._messages[message_id] = msg
        return msg

    def message(self, message_id: str) -> SandboxMessage:
        """Snapshot of one message; ApiError 230001 when there is no such message."""
        with self._lock:
            return self._get(message_id).snapshot()

    def _get(self, message_id: str) -> _Message:
        msg = self._messages.get(message_id)
        if msg is None:
            raise ApiError(400, INVALID_PARAM, f"invalid message_id: {message_id}")
        return msg

    def check_patchable(self, message_id: str, qps: int | None) -> None:
        """Refuse a PATCH of a message sent over 14 days ago, or the sixth in a second.

        reference/im-v1/message/patch: "仅支持更新 14 天内发送的消息" and "单条消息更新频控为
        5 QPS" (230020, the IM frequency-limit code, as for sends to one user).
        """
        with self._lock:
            msg = self._get(message_id)
            if self.now() - msg.versions[0].at > UPDATE_WINDOW:
                raise ApiError(400, MESSAGE_TOO_OLD, "The message was sent over 14 days ago.")
        if qps is not None and not self._note(f"message:{message_id}", qps):
            raise ApiError(400, USER_RATE_LIMITED, "This operation triggers the frequency limit.")

    def update_card(self, message_id: str, card: dict[str, Any], source: VersionSource) -> None:
        """Append a new card version to an interactive message and count it."""
        with self._lock:
            msg = self._get(message_id)
            if msg.msg_type != "interactive" or msg.sender != "bot":
                raise ApiError(400, INVALID_PARAM, "only cards sent by the bot can be updated")
            msg.versions.append(MessageVersion(content=card, source=source, at=self.now()))
            counters = self._counters[msg.user.open_id]
            if source == "patch":
                counters.patched += 1
            elif source == "callback":
                counters.callback_updates += 1
            else:
                counters.delayed_updates += 1

    def messages(self, open_id: str) -> list[SandboxMessage]:
        """Every message in the user's chat with the bot, oldest first."""
        with self._lock:
            return [m.snapshot() for m in self._messages.values() if m.user.open_id == open_id]

    def usage(self, open_id: str) -> Usage:
        """Counters of the OpenAPI work done for this user."""
        with self._lock:
            c = self._counters[open_id]
            return Usage(
                created=c.created,
                patched=c.patched,
                callback_updates=c.callback_updates,
                delayed_updates=c.delayed_updates,
            )

    def note_send(self, open_id: str, qps: int) -> bool:
        """Record a send to this user; False when it exceeds ``qps`` in the last second."""
        return self._note(f"user:{open_id}", qps)

    def note_call(self, api: str, windows: Sequence[Window]) -> tuple[Window, float] | None:
        """Record one call of ``api`` by the app, unless one of ``windows`` is full: then that
        window and the seconds until it has room (the call is not recorded)."""
        with self._lock:
            now = self.now()
            for window in windows:
                calls = self._window(f"api:{api}:{window.seconds}", window.seconds, now)
                if len(calls) >= window.calls:
                    return window, calls[len(calls) - window.calls] + window.seconds - now
            for window in windows:
                self._sends[f"api:{api}:{window.seconds}"].append(now)
            return None

    def _window(self, key: str, seconds: float, now: float) -> deque[float]:
        """The calls under ``key`` in the ``seconds`` before ``now`` (older ones dropped)."""
        calls = self._sends[key]
        while calls and now - calls[0] >= seconds:
            calls.popleft()
        return calls

    def _note(self, key: str, qps: int) -> bool:
        with self._lock:
            now = self.now()
            window = self._window(key, 1.0, now)
            if len(window) >= qps:
                return False
            window.append(now)
            return True

    # -- callback (delayed update) tokens ------------------------------------------------

    def issue_card_token(self, message_id: str) -> str:
        """A ``c-...`` token for one click, valid 30 min for ``card_token_uses`` updates."""
        token = "c-" + secrets.token_hex(16)
        with self._lock:
            self._card_tokens[token] = _CardToken(message_id, self.now())
        return token

    def callback_answered(self, token: str) -> None:
        """The callback that carried ``token`` was answered, or its 3 s are over."""
        with self._lock:
            entry = self._card_tokens.get(token)
            if entry is not None:
                entry.answered = True

    def use_card_token(self, token: str) -> str:
        """Spend one use of a callback token; returns its message_id or raises ApiError."""
        with self._lock:
            entry = self._card_tokens.get(token)
            if entry is None or self.now() - entry.issued_at > CARD_TOKEN_TTL:
                raise ApiError(400, CARD_TOKEN_INVALID, "token is invalid or expired")
            # "调用延迟更新接口需要晚于同步返回" (doc uMDO1YjLzgTN24yM4UjN, delayed update): the
            # platform's behaviour before the answer is undefined; the strict reading refuses it.
            if not entry.answered:
                raise ApiError(400, CARD_TOKEN_INVALID, "the callback has not been answered yet")
            if entry.uses >= self.card_token_uses:
                raise ApiError(400, CARD_TOKEN_INVALID, "token has been used up")
            entry.uses += 1
            return entry.message_id
