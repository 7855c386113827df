"""Values the DingTalk sandbox hands to tests, the demo and support tooling.

Everything here is an immutable snapshot: the sandbox mutates its own records on its
own thread, and callers on other threads only ever see copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web


class SandboxError(Exception):
    """A sandbox hook was used in a way the real platform could not produce."""


class ApiError(Exception):
    """An OpenAPI failure, rendered in the v1.0 ``{"code","message","requestid"}`` shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def response(self, request_id: str) -> web.Response:
        """The HTTP response the real gateway would send for this error."""
        body = {"code": self.code, "message": self.message, "requestid": request_id}
        return web.json_response(body, status=self.status)


@dataclass(frozen=True)
class SandboxUser:
    """A member of the sandbox org (``userId`` is the org-scoped staff id)."""

    user_id: str
    name: str
    mobile: str | None
    union_id: str


@dataclass(frozen=True)
class CardVersion:
    """One state of a card as seen by one user, with what produced it."""

    source: str  # "create", "update" (PUT /v1.0/card/instances) or "callback" (click ACK)
    params: dict[str, str]
    private_params: dict[str, str]


@dataclass(frozen=True)
class SandboxCard:
    """A card instance as one user sees it."""

    out_track_id: str
    template_id: str
    callback_type: str
    params: dict[str, str]
    private_params: dict[str, str]
    spaces: tuple[str, ...]
    versions: tuple[CardVersion, ...]


@dataclass(frozen=True)
class SandboxMessage:
    """A robot message a user received: ``robot`` (batchSend) or ``session_reply``."""

    kind: str
    msg_key: str  # batchSend msgKey, or the sessionWebhook body's msgtype
    content: dict[str, Any]
    at: float

    @property
    def text(self) -> str:
        """The human-readable body, whichever field the message kind keeps it in."""
        for key in ("content", "text"):
            value = self.content.get(key)
            if isinstance(value, str):
                return value
        return ""


@dataclass(frozen=True)
class AckFrame:
    """A client-to-server ACK frame."""

    code: int
    message: str
    data: str
    message_id: str

    def decoded(self) -> Any:
        """``data`` parsed as JSON (the SDK sends a JSON string); None if empty or not JSON."""
        try:
            return json.loads(self.data) if self.data else None
        except ValueError:
            return None


@dataclass(frozen=True)
class ClickResult:
    """What a card click produced: the handler's response and the card afterwards."""

    response: dict[str, Any]
    card: SandboxCard
    ack: AckFrame | None  # None: no ACK within the platform's 3 s, the callback failed
    deliveries: int  # how many times the CALLBACK frame went out (the platform: once)
    error: str | None = None  # what the user's DingTalk shows when the callback failed
    connection_ids: tuple[str, ...] = ()  # the stream connection(s) the frame went out on


@dataclass
class Usage:
    """Per-user platform usage, for metering tests."""

    cards_created: int = 0
    cards_updated: int = 0
    messages_sent: int = 0

    def copy(self) -> Usage:
        """A detached copy."""
        return Usage(self.cards_created, self.cards_updated, self.messages_sent)
