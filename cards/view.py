"""The approval view: everything a card shows, and nothing about where it goes.

The gateway builds one :class:`ApprovalView` per approver and per state; every
renderer in this package turns it into a platform payload without any I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class CardState(StrEnum):
    """What the card is showing."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"  # the decision could not be submitted to the backend
    TEST = "test"  # a support test card: buttons answer with a toast only


class Locale(StrEnum):
    """Languages a card is rendered in."""

    ZH_CN = "zh-CN"
    EN_US = "en-US"


class FieldKind(StrEnum):
    """How a field is drawn: a text line, a code block (SQL), or a coloured risk tag."""

    TEXT = "text"
    CODE = "code"
    RISK = "risk"  # value "low", "medium" or "high"


class ViewField(BaseModel):
    """One name/value line of the ticket, as the backend sent it (untrusted text)."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    kind: FieldKind = FieldKind.TEXT


class ViewDecision(BaseModel):
    """Who decided, when, and what they said (shown in final states)."""

    model_config = ConfigDict(frozen=True)

    by: str  # display name of the approver who decided
    at: datetime
    comment: str | None = None  # approve comment or reject reason


class ViewVote(BaseModel):
    """One approver's vote as a card shows it."""

    model_config = ConfigDict(frozen=True)

    by: str  # display name
    approved: bool
    at: datetime
    comment: str | None = None


class ViewProgress(BaseModel):
    """Where a multi-approver request stands, seen from the stage of the card's holder."""

    model_config = ConfigDict(frozen=True)

    stage: int = Field(1, ge=1)  # the holder's stage, counted from 1
    stages: int = Field(1, ge=1)
    stage_name: str = ""
    needed: int = Field(ge=1)  # approvals the stage needs
    approved: tuple[str, ...] = ()  # display names, in the order they voted
    waiting: tuple[str, ...] = ()  # display names of those not yet voted
    rejected: ViewVote | None = None  # the rejection that decided the stage, with its reason
    own_vote: ViewVote | None = None  # the holder's vote: the card shows it instead of buttons
    passed_to: str | None = None  # the next stage's name once the holder's stage is approved


class ApprovalView(BaseModel):
    """Input of every renderer: one approver's card for one request in one state.

    All text fields are untrusted ticket text; renderers escape and truncate them.
    ``action_ref`` is the opaque value the card's buttons carry back on a click: it
    resolves to the delivery on the gateway's side and is not a secret.
    """

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    title: str
    summary: str = ""
    fields: tuple[ViewField, ...] = ()
    submitter: str
    approver: str  # display name of the approver holding this card
    console_url: str
    expires_at: datetime
    locale: Locale = Locale.EN_US
    state: CardState = CardState.PENDING
    decision: ViewDecision | None = None
    action_ref: str = Field(default="", description="opaque token echoed back by button clicks")
    note: str | None = None  # extra line, e.g. why a submission failed
    progress: ViewProgress | None = None  # multi-approver requests only
    # The holder handed the request over to this person (their name): the card takes no vote.
    handed_to: str | None = None
    # IANA zone the card's times are shown in (the approver's); None: the locale's zone.
    time_zone: str | None = None
    # Whom the holder may hand the request over to, by their platform id (Lark open_ids, at
    # most 20, see bot.core.roster.candidates): a pending Lark card offers them in a person
    # picker, none means no picker (without options Lark offers the members of the chat,
    # which in the bot's one-to-one chat is the holder alone).
    hand_over_to: tuple[str, ...] = ()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value
