"""The approval domain's stored side: a request as stored, its deliveries, votes, decision, the
click and its answer, and the outbox job.

Stored entities are frozen so a handler cannot change state behind the service's back. What a
ticket backend submits, the intake contract, is in :mod:`bot.core.intake`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from bot.core.entity import Entity as Entity  # the base of the entities below, re-exported
from bot.core.intake import ApprovalRequest, Approver, ChannelName


class RequestStatus(StrEnum):
    """Life of a request: pending until decided, withdrawn or expired; then final."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class DeliveryState(StrEnum):
    """Life of one card to one approver on one channel."""

    QUEUED = "queued"
    SENT = "sent"
    UPDATED = "updated"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"  # the request closed before the card went out


class Outcome(StrEnum):
    """What an approver decided."""

    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Vote:
    """One approver's vote in one stage (``stage`` is its 0-based index).

    The rules (:mod:`bot.core.policy`) read the first five fields; the store keeps the rest,
    which the decision webhook and the cards show: who voted, under which name, on which
    channel (identity at click time, as for a decision).
    """

    stage: int
    account_id: str
    outcome: Outcome
    at: datetime
    comment: str | None = None
    display_name: str = ""
    channel: ChannelName = ""


class ForwardState(StrEnum):
    """Whether the backend has the decision."""

    PENDING = "pending"
    FORWARDED = "forwarded"
    FAILED = "failed"
    NOT_NEEDED = "not_needed"  # decided in the console: the backend already knows


class DeliveryEvent(Entity):
    """One hop in a delivery's history (the trace support reads)."""

    at: datetime
    state: DeliveryState
    detail: str = ""


class Delivery(Entity):
    """One approver's card on one channel."""

    id: str
    request_id: str
    account_id: str
    channel: ChannelName
    address: str | None
    state: DeliveryState
    reason: str | None = None
    external_ref: str | None = None
    created_at: datetime
    updated_at: datetime
    history: tuple[DeliveryEvent, ...] = ()
    # The approver's own time zone (their preference) as read with the delivery; None: the
    # zone of the ticket's locale. Not stored on the delivery: a change applies to the next card.
    time_zone: str | None = None


class Decision(Entity):
    """The first valid decision on a request; ``id`` is the event id sent to the backend."""

    id: str
    request_id: str
    outcome: Outcome
    account_id: str
    display_name: str
    channel: ChannelName
    comment: str | None
    decided_at: datetime
    source: str
    forward_state: ForwardState
    forward_detail: str | None = None
    forwarded_at: datetime | None = None


class RosterChange(Entity):
    """Someone who joined a pending request's open stage after it started (``bot.core.roster``):
    added by an escalation step (``by`` is the step's key), or handed an approver's card
    (``replaces`` is that approver, ``by`` the account that handed it over)."""

    kind: Literal["added", "handed_over"]
    stage: int  # 0-based; 0 for a request without stages
    approver: Approver
    replaces: str | None = None
    replaced_name: str = ""  # the display name of ``replaces``, no longer on the roster
    by: str
    at: datetime


class StoredRequest(Entity):
    """A request as the gateway holds it: ``ticket`` is the roster as it stands (the ticket
    as submitted with ``changes`` applied)."""

    id: str
    ticket: ApprovalRequest
    status: RequestStatus
    created_at: datetime
    closed_at: datetime | None = None
    close_reason: str | None = None
    deliveries: tuple[Delivery, ...] = ()
    decision: Decision | None = None
    # The votes so far, in the order they came: filled where cards are drawn or a click is
    # answered (the votes repository, ``UnitOfWork.votes``); empty elsewhere.
    votes: tuple[Vote, ...] = ()
    changes: tuple[RosterChange, ...] = ()

    def approver(self, account_id: str) -> Approver | None:
        """The approver with this account, in ``approvers`` or any stage, if any."""
        ticket = self.ticket
        listed = [*ticket.approvers, *(a for s in ticket.stages or () for a in s.approvers)]
        return next((a for a in listed if a.account_id == account_id), None)

    def with_votes(self, votes: Sequence[Vote]) -> StoredRequest:
        """This request carrying ``votes``."""
        return self.model_copy(update={"votes": tuple(votes)})


class ClickAction(StrEnum):
    """What a card button (or Lark's person picker) asks for."""

    APPROVE = "approve"
    REJECT = "reject"
    TEST = "test"
    HAND_OVER = "hand_over"  # a person picked on the card: hand the request over to them


class InboundAction(Entity):
    """A button click, whichever transport brought it (stream frame or HTTP callback)."""

    channel: ChannelName
    actor: str  # the clicker's identity on that channel (open_id, userId, ...)
    ref: str  # the delivery id the card carries
    action: ClickAction
    comment: str | None = None
    source: str  # e.g. "stream:<connection id>" or "http": kept in the audit trail
    to: str | None = None  # HAND_OVER: the picked person's identity on that channel


class ActionStatus(StrEnum):
    """How the gateway answered a click."""

    DECIDED = "decided"
    VOTED = "voted"  # the vote counts; the request waits for more votes
    ALREADY_DECIDED = "already_decided"
    ALREADY_VOTED = "already_voted"  # this approver voted in this stage (the request has it)
    NOT_YET = "not_yet"  # an approver of a later stage: their stage is not open
    STAGE_PASSED = "stage_passed"  # their stage was decided without their vote
    SELF_APPROVAL = "self_approval"  # the submitter's own account, not allowed on this request
    HANDED_OVER = "handed_over"  # the clicker handed the request over to a colleague
    HANDED = "handed"  # this pick handed the request over (the colleague gets a card)
    TAKER_UNBOUND = "taker_unbound"  # the picked person is bound to no account on the channel
    TAKER_SUBMITTER = "taker_submitter"  # the picked person submitted the request
    TAKER_APPROVER = "taker_approver"  # the picked person is, or was, an approver of it
    CLOSED = "closed"  # withdrawn or expired
    NOT_APPROVER = "not_approver"
    UNLINKED = "identity_unlinked"  # the clicker's chat identity is no longer the approver's
    UNKNOWN_CARD = "unknown_card"
    REASON_REQUIRED = "reason_required"
    TEST = "test"


class ActionResult(Entity):
    """The domain's answer to a click; the channel turns it into a toast and a card."""

    status: ActionStatus
    request: StoredRequest | None = None
    delivery: Delivery | None = None
    ref: str = ""  # the clicked button's ref, set when no request answers (a test card's)

    @property
    def ok(self) -> bool:
        return self.status in (
            ActionStatus.DECIDED,
            ActionStatus.VOTED,
            ActionStatus.TEST,
            ActionStatus.HANDED,
        )

    @property
    def counted(self) -> bool:
        """Whether the click's vote was stored (its card now shows the vote)."""
        return self.status in (ActionStatus.DECIDED, ActionStatus.VOTED)

    @property
    def changed_card(self) -> bool:
        """Whether the click changed what its own card shows (a vote stored, or the request
        handed over): the click's answer redraws it, else the card API does."""
        return self.counted or self.status is ActionStatus.HANDED


class Job(Entity):
    """An outbox job claimed by a worker."""

    id: int
    kind: str
    ref: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    last_error: str | None = None
    # Who holds its lease, as claimed: what completes the job with the work's outcome needs it.
    lease_owner: str | None = None
