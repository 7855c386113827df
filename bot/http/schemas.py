"""API response bodies: the trace support reads, the error shape, the health answers, and the
platform callback envelopes the OpenAPI document describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot.core.intake import Rule
from bot.core.models import DeliveryState, ForwardState, Outcome, RequestStatus, StoredRequest
from bot.core.policy import Policy, StageState, outcome
from bot.core.ports import IdentityNotice, RequestJob
from bot.core.service import RequestTrace
from bot.core.tell_submitter import TELL_IDENTITY
from bot.core.timing.steps import TIMING_STEP, StepJob


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


class VoteOut(Out):
    """One approver's vote: who, how, with which comment, on which channel, when."""

    account_id: str
    display_name: str
    outcome: Outcome
    comment: str | None
    channel: str
    at: datetime


class StageOut(Out):
    """One stage of the request: its rule, the approvals it needs, where it stands, its votes."""

    name: str = Field(description='"" for the one stage of a request given ``approvers``')
    rule: Rule
    needed: int = Field(description="approvals that approve the stage")
    state: StageState = Field(description="waiting: an earlier stage is still open (or rejected)")
    votes: list[VoteOut]
    awaited: list[ApproverOut] = Field(description="who this open stage still waits for")


class JoinedOut(Out):
    """Someone who joined the request after it started: added by an escalation step, or
    handed the request by an approver who had not voted (whom they replace)."""

    account_id: str
    display_name: str
    how: Literal["added", "handed_over"]
    stage: int = Field(description="the stage they joined, counted from 1")
    replaces: str | None = Field(description="handed_over: the approver who handed it over")
    by: str = Field(description='the escalation step ("escalation:N:*") or the approver')
    at: datetime


JobState = Literal["scheduled", "done", "cancelled", "failed"]
JOB_STATES: dict[str, JobState] = {
    "pending": "scheduled",  # a failed attempt to retry is still scheduled (``error`` says why)
    "done": "done",
    "cancelled": "cancelled",
    "dead": "failed",
}


class StepOut(Out):
    """A reminder or escalation step of the request (README "Approvals over time")."""

    kind: str = Field(description="reminder or escalation")
    number: int
    action: str = Field(description='what it does: "remind", "notify:email", "add_approvers"...')
    account_id: str | None = Field(description="the approver it is for; null: everyone awaited")
    due: datetime
    state: JobState = Field(description="cancelled: the request closed before it came due")
    done_at: datetime | None


class NoticeOut(Out):
    """The outcome notice to the submitter (``notify_submitter``): where it went, how it fared."""

    channel: str
    text: str
    state: JobState
    queued_at: datetime
    done_at: datetime | None
    error: str | None


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
    stages: list[StageOut] = Field(description="every stage, in order, with its votes")
    awaited: list[ApproverOut] = Field(description="who the request waits for now")
    steps: list[StepOut] = Field(description="its reminder and escalation steps")
    submitter_notice: NoticeOut | None = Field(
        description="the outcome notice to the submitter, once queued (notify_submitter)"
    )
    joined: list[JoinedOut] = Field(
        default_factory=list, description="who joined after it started, in order"
    )

    @classmethod
    def of(cls, request: StoredRequest | RequestTrace) -> ApprovalOut:
        """Build the trace from a stored request (with its votes), or a whole trace."""
        trace = request if isinstance(request, RequestTrace) else RequestTrace(request=request)
        request = trace.request
        decision = request.decision
        stages, awaited = _stages(request)
        notices = [_notice(job) for job in trace.jobs if job.kind == TELL_IDENTITY]
        return cls(
            stages=stages,
            awaited=awaited,
            steps=[_step(job) for job in trace.jobs if job.kind == TIMING_STEP],
            submitter_notice=notices[0] if notices else None,
            joined=[
                JoinedOut(
                    account_id=c.approver.account_id,
                    display_name=c.approver.display_name,
                    how=c.kind,
                    stage=c.stage + 1,
                    replaces=c.replaces,
                    by=c.by,
                    at=c.at,
                )
                for c in request.changes
            ],
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


def _stages(request: StoredRequest) -> tuple[list[StageOut], list[ApproverOut]]:
    progress = outcome(Policy.from_request(request.ticket), request.votes)
    stages = [
        StageOut(
            name=stage.name,
            rule=stage.rule,
            needed=stage.needed,
            state=stage.state,
            votes=[
                VoteOut(
                    account_id=v.account_id,
                    display_name=v.display_name or v.account_id,
                    outcome=v.outcome,
                    comment=v.comment,
                    channel=v.channel,
                    at=v.at,
                )
                for v in sorted((*stage.approved, *stage.rejected), key=lambda v: v.at)
            ],
            awaited=[_person(a.account_id, a.display_name) for a in stage.awaited],
        )
        for stage in progress.stages
    ]
    # A closed request awaits nobody, whatever its votes add up to (withdrawn, expired...).
    pending = request.status is RequestStatus.PENDING
    awaited = [_person(a.account_id, a.display_name) for a in progress.awaited] if pending else []
    return stages, awaited


def _person(account_id: str, display_name: str) -> ApproverOut:
    return ApproverOut(account_id=account_id, display_name=display_name)


def _step(job: RequestJob) -> StepOut:
    step = StepJob.model_validate(job.payload)
    return StepOut(
        kind=step.kind,
        number=step.number,
        action=step.action,
        account_id=step.account_id,
        due=job.due,
        state=_job_state(job),
        done_at=job.done_at,
    )


def _notice(job: RequestJob) -> NoticeOut:
    notice = IdentityNotice.model_validate(job.payload)
    return NoticeOut(
        channel=notice.channel,
        text=notice.text,
        state=_job_state(job),
        queued_at=job.due,
        done_at=job.done_at,
        error=job.last_error,
    )


def _job_state(job: RequestJob) -> JobState:
    return JOB_STATES.get(job.state, "scheduled")


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
