"""Public value types of the Lark sandbox: users, the messages they hold, click results.

They are frozen snapshots: the sandbox keeps its own mutable state and hands out copies,
so a test or the sandbox phone page can hold on to one without racing the sandbox thread.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VersionSource = Literal["create", "patch", "callback", "delayed_update"]


class SandboxUser(BaseModel):
    """A person in the sandbox tenant, reachable by any of the platform's user IDs."""

    model_config = ConfigDict(frozen=True)

    open_id: str
    name: str
    user_id: str
    union_id: str
    email: str | None = None
    mobile: str | None = None

    @property
    def chat_id(self) -> str:
        """The p2p chat between this user and the bot (``oc_...``)."""
        return "oc_" + self.open_id.removeprefix("ou_")


class MessageVersion(BaseModel):
    """One state of a message's content and what produced it."""

    model_config = ConfigDict(frozen=True)

    content: dict[str, Any]
    source: VersionSource
    at: float  # wall-clock seconds on the sandbox clock


class SandboxMessage(BaseModel):
    """A message as the user's Lark client holds it, with every version it went through."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    open_id: str  # whose p2p chat the message is in
    chat_id: str
    sender: Literal["bot", "user"]
    msg_type: Literal["interactive", "text"]
    uuid: str | None = None
    versions: tuple[MessageVersion, ...] = Field(min_length=1)

    @property
    def content(self) -> dict[str, Any]:
        """The current content: the card dict for ``interactive``, ``{"text": ...}`` for text."""
        return self.versions[-1].content


class ClickResult(BaseModel):
    """What the gateway answered to a card click.

    ``raw`` is the handler's decoded response object (``{}`` when it returned nothing);
    ``code`` is the ACK code over the long connection (200, or 500 when the handler
    raised) or the HTTP status in callback mode. ``failed``: no answer within the
    platform's 3 s, so the user saw the platform's error ``toast`` and the card is as it was.
    """

    model_config = ConfigDict(frozen=True)

    code: int
    toast: dict[str, Any] | None = None
    card: dict[str, Any] | None = None
    raw: dict[str, Any] = Field(default_factory=dict)
    failed: bool = False


class Usage(BaseModel):
    """How much OpenAPI traffic one user caused: the basis for usage metering."""

    model_config = ConfigDict(frozen=True)

    created: int = 0
    patched: int = 0
    callback_updates: int = 0  # cards replaced by a click response
    delayed_updates: int = 0  # cards replaced through /interactive/v1/card/update


class RequestRecord(BaseModel):
    """One OpenAPI request the sandbox answered."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    status: int
    code: int | None
    at: float
    connection: int | None = None  # the client's TCP port: which connection carried the call
    size: int = 0  # bytes of the request body, as received


class DeliveryInfo(BaseModel):
    """How one event travelled over the long connection."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    event_type: str
    sent: int  # 1 + redeliveries
    frames: int  # DATA frames written, counting every part of every send
    devices: tuple[str, ...]  # device_id of the connection each send went to
    acks: int  # ACK frames received, duplicates included
    acks_lost: int  # ACK frames dropped by hold_acks
    acked: bool
    acks_late: int = 0  # card callback ACKs after the 3 s deadline (void)
