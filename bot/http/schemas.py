"""API response bodies: the trace support reads, the error shape, the health answers, and the
platform callback envelopes the OpenAPI document describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot.core.models import (
    DeliveryState,
    ForwardState,
    Outcome,
    RequestStatus,
    StoredRequest,
)


class Out(BaseModel):
    """Base of response models."""

    model_config = ConfigDict(frozen=True)


class HopOut(Out):
    """One step of a delivery."""

    at: datetime
    state: DeliveryState
    detail: str


class DeliveryOut(Out):
    """A delivery and its history."""

    delivery_id: str
    account_id: str
    channel: str
    state: DeliveryState
    reason: str | None
    history: list[HopOut]


class ApproverOut(Out):
    """Who decided."""

    account_id: str
    display_name: str


class DecisionOut(Out):
    """The decision, and whether the backend has it."""

    event_id: str
    decision: Outcome
    approver: ApproverOut
    channel: str
    comment: str | None
    decided_at: datetime
    forward_state: ForwardState
    forward_detail: str | None


class ApprovalOut(Out):
    """A request's state: what ``GET /v1/approvals/{ticket_id}`` answers."""

    request_id: str
    ticket_id: str
    title: str
    status: RequestStatus
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    deliveries: list[DeliveryOut]
    decision: DecisionOut | None

    @classmethod
    def of(cls, request: StoredRequest) -> ApprovalOut:
        """Build the trace from a stored request."""
        decision = request.decision
        return cls(
            request_id=request.id,
            ticket_id=request.ticket.ticket_id,
            title=request.ticket.title,
            status=request.status,
            created_at=request.created_at,
            expires_at=request.ticket.expires_at,
            closed_at=request.closed_at,
            close_reason=request.close_reason,
            deliveries=[
                DeliveryOut(
                    delivery_id=d.id,
                    account_id=d.account_id,
                    channel=d.channel,
                    state=d.state,
                    reason=d.reason,
                    history=[HopOut(at=h.at, state=h.state, detail=h.detail) for h in d.history],
                )
                for d in request.deliveries
            ],
            decision=None
            if decision is None
            else DecisionOut(
                event_id=decision.id,
                decision=decision.outcome,
                approver=ApproverOut(
                    account_id=decision.account_id, display_name=decision.display_name
                ),
                channel=decision.channel,
                comment=decision.comment,
                decided_at=decision.decided_at,
                forward_state=decision.forward_state,
                forward_detail=decision.forward_detail,
            ),
        )


class ErrorDetail(Out):
    """What went wrong; ``fields`` names each offending field."""

    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorBody(Out):
    """Every error answer."""

    error: ErrorDetail


class HealthOut(Out):
    """``GET /healthz``: the process is up."""

    status: Literal["ok"]


class ReplicaOut(Out):
    """Which process answered, and which channels' streams are up in it."""

    id: str
    pid: int
    connections: dict[str, bool]


class ReadyOut(Out):
    """``GET /readyz``: each check's detail (``store``, then one per channel) and the replica."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    replica: ReplicaOut


# -- platform callbacks (HTTP mode) --------------------------------------------------------------
# The platform SDK or our crypto reads these bodies; the models describe the wire for the document.


class CallbackRefusal(Out):
    """A refused callback: bad signature, stale timestamp, replay, or channel not started."""

    error: str


class LarkEnvelope(BaseModel):
    """A Lark callback: url_verification (``challenge``), encrypted (``encrypt``, with an Encrypt
    Key set) or a plain schema 2.0 event (``schema``, ``header``, ``event``)."""

    model_config = ConfigDict(extra="allow")

    encrypt: str | None = None
    challenge: str | None = None
    token: str | None = None
    type: str | None = None
    schema_: str | None = Field(None, alias="schema")
    header: dict[str, Any] | None = None
    event: dict[str, Any] | None = None


class LarkAnswer(RootModel[dict[str, Any]]):
    """What Lark receives back: ``{"challenge"}`` for url_verification, a card action answer
    (``toast``, ``card``) for a click, ``{}`` otherwise."""


class DingTalkCallbackQuery(BaseModel):
    """The signature parameters of an event-subscription callback (both spellings are sent)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    msg_signature: str | None = None
    signature: str | None = None
    timestamp: str | None = None
    timeStamp: str | None = None
    nonce: str | None = None


class DingTalkEnvelope(BaseModel):
    """A DingTalk callback: an encrypted event (``encrypt``; a card click decrypts to
    ``outTrackId`` + ``content``) or a robot message (plain JSON with ``msgId``)."""

    model_config = ConfigDict(extra="allow")

    encrypt: str | None = None
    msgId: str | None = None
    msgtype: str | None = None
    text: dict[str, Any] | None = None
    senderStaffId: str | None = None


class DingTalkAnswer(BaseModel):
    """The encrypted ``success`` an event callback gets (a robot message gets ``{}``)."""

    msg_signature: str | None = None
    timeStamp: str | None = None
    nonce: str | None = None
    encrypt: str | None = None
