"""API response bodies: the trace support reads, and the error shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

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
