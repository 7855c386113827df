"""The durable side of the plan: each reminder or escalation step is one outbox job.

``schedule`` writes them with the request (one job per ``Step.key``, ref
``"<request id>/<key>"``, due at the step's time); the request's close cancels those still
pending, in the same unit (``RequestRepo.close``). A job that runs finds the request and
who is still to vote as they are then, so a vote or a close that raced it sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.intake import Approver, UrgencyKind
from bot.core.models import DeliveryState, Entity, RequestStatus, StoredRequest
from bot.core.policy import Policy, outcome
from bot.core.ports import UnitOfWork
from bot.core.timing.plan import Pending, Step, plan
from bot.core.timing.policy import TimingPolicy
from bot.core.timing.quiet import zone_for

TIMING_STEP = "timing_step"
ADD_APPROVERS = "add_approvers"  # the action of an escalation step that adds approvers
REMIND_NOW = "remind now"  # the action of a reminder a person asked for (``bot.core.timing.now``)
Offered = Callable[[str], frozenset[UrgencyKind]]
"""The urgency kinds a channel (by name) offers."""


class StepJob(Entity):
    """What a ``timing_step`` job carries: the step as planned."""

    request_id: str
    key: str
    kind: str
    number: int
    action: str
    account_id: str | None = None
    urgent: UrgencyKind | None = None
    asked: UrgencyKind | None = None
    note: str = ""

    @classmethod
    def of(cls, request_id: str, step: Step) -> StepJob:
        """The job of ``step``."""
        return cls(
            request_id=request_id,
            key=step.key,
            kind=step.kind,
            number=step.number,
            action=step.action,
            account_id=step.account_id,
            urgent=step.urgent,
            asked=step.asked,
            note=step.note,
        )

    @property
    def label(self) -> str:
        """How the card's history names it: ``reminder 2``, or ``reminder now``."""
        return "reminder now" if self.action == REMIND_NOW else f"{self.kind} {self.number}"


def still_to_vote(request: StoredRequest) -> tuple[Approver, ...]:
    """The approvers of a pending request its open stage still waits for (``request`` carries
    its votes; without them, everyone the open stage asks)."""
    if request.status is not RequestStatus.PENDING:
        return ()
    return outcome(Policy.from_request(request.ticket), request.votes).awaited


async def schedule(
    uow: UnitOfWork,
    request: StoredRequest,
    policy: TimingPolicy,
    offered: Offered,
    joined: tuple[Collection[str], datetime] | None = None,
) -> int:
    """Queue the request's reminder and escalation steps in ``uow``; how many.

    ``joined``: only the steps of these approvers, who joined the request at that time (an
    escalation step added them, or a hand-over): their reminders from then on.
    """
    pending = await _pending(uow, request, policy, offered)
    if joined is not None:
        who, since = joined
        pending = [replace(p, since=since) for p in pending if p.account_id in who]
    steps = [s for s in plan(request.ticket, request.created_at, pending, policy).steps]
    queued = 0
    for step in steps:
        if step.kind == "expiry" or (joined is not None and step.account_id is None):
            continue  # the expiry sweep owns the outcome; the request's own steps are queued
        job = StepJob.of(request.id, step)
        await uow.outbox.enqueue(
            TIMING_STEP, f"{request.id}/{step.key}", step.due, job.model_dump_json()
        )
        queued += 1
    return queued


async def _pending(
    uow: UnitOfWork, request: StoredRequest, policy: TimingPolicy, offered: Offered
) -> Sequence[Pending]:
    # Only approvers a card is on its way to: a reminder points at that card.
    reached = {
        d.account_id: d.channel for d in request.deliveries if d.state is DeliveryState.QUEUED
    }
    pending = []
    for approver in still_to_vote(request):
        if approver.account_id not in reached:
            continue
        # Quiet hours in the approver's own zone (their preference), as their cards show times.
        own = (await uow.identities.route_preference(approver.account_id)).time_zone
        where = zone_for(own, request.ticket.locale, policy.zones)
        pending.append(Pending(approver.account_id, where, offered(reached[approver.account_id])))
    return pending
