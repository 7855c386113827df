"""What the channel authorization API answers: a channel's status, an authorization's result,
and the refusal of an authorization without consent."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from bot.core.ports import ChannelHealth
from bot.errors import InvalidInput

AUTHORIZED, CONSENT_NEEDED, BROKEN = "authorized", "consent_needed", "broken"
# Where the credential of a running channel came from, as the authorize answer says it.
Source = Literal["given", "stored", "settings"]
SOURCES: dict[Source, str] = {
    "given": "stored encrypted",
    "stored": "kept: the credential stored encrypted at an earlier authorization",
    "settings": "from settings",
}


class ConsentRequired(InvalidInput):
    """The notice was not accepted, or a different version of it was read."""

    code = "consent_required"
    status = 400


class ChannelStatus(BaseModel):
    """One channel as ``GET /v1/channels`` shows it (never a credential)."""

    channel: str
    kind: str
    state: str
    running: bool
    authorized_by: str | None = None
    authorized_at: str | None = None
    notice_version: str | None = None
    notice_current: bool = False
    paid_urgency: bool = False  # SMS and phone urgency accepted with the current notice
    credentials: Literal["stored", "settings"] | None = None
    detail: str | None = None  # why a consent_needed or broken channel sends nothing
    health: ChannelHealth | None = None
    usage_this_month: dict[str, int] | None = None  # filled in by the API from the usage table


class AuthorizeResult(BaseModel):
    """The answer to an authorization: the state, the check made, and what to set up next."""

    channel: str
    state: str
    notice_version: str
    credentials: str
    check: str
    next_steps: list[str]
