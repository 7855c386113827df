"""People who join a pending request after it started.

Two ways in, both into the stage open at that moment:

- an escalation step's ``add_approvers`` (its ``timing_step`` job runs :func:`add_from_step`);
- a hand-over (转交): an approver who has not voted hands the request to a colleague
  (:func:`hand_over`). The colleague *replaces* them in the stage, votes under their own name,
  and the stage's rule counts them as it counted the one they replace. (Unlike a delegation,
  which lasts a period and covers every request, a hand-over is one request and for good: the
  vote is the colleague's, not "B for A", and the approver's own card stops taking clicks.)

The request keeps the ticket as submitted and, beside it, the list of these changes
(``StoredRequest.changes``, a column of the request's row, written under its lock in the unit
that plans the newcomers' cards); the store applies them when it reads the request
(:func:`applied`), so the rules (:mod:`bot.core.policy`), every card and the trace see the
roster as it stands. A step that runs again after a crash finds its change recorded and adds
nobody, plans no card.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from pydantic import Field

from bot.core import redraw
from bot.core.intake import AccountType, ApprovalRequest, Approver, Text, Wire
from bot.core.models import ActionStatus, DeliveryState, RequestStatus, RosterChange, StoredRequest
from bot.core.policy import Policy, outcome
from bot.core.ports import UnitOfWork
from bot.core.timing.steps import StepJob
from bot.errors import Conflict, InvalidInput, NotFound

Planner = Callable[[UnitOfWork, StoredRequest, Approver, datetime], Awaitable[object]]
"""Plans one approver's card in the unit (``ApprovalService``'s routing, delegation included)."""
HAND_OVER = "request.hand_over"  # the audit action
ADDED = "request.add_approvers"
CANDIDATES = 20  # people a card's hand-over picker offers at most


def applied(ticket: ApprovalRequest, changes: Sequence[RosterChange]) -> ApprovalRequest:
    """``ticket`` with ``changes`` applied to its stages, in order (the roster as it stands)."""
    for change in changes:
        ticket = _apply(ticket, change)
    return ticket


def _apply(ticket: ApprovalRequest, change: RosterChange) -> ApprovalRequest:
    if ticket.stages is None:
        return ticket.model_copy(update={"approvers": _swap(ticket.approvers, change)})
    stages = list(ticket.stages)
    stage = stages[change.stage]
    stages[change.stage] = stage.model_copy(update={"approvers": _swap(stage.approvers, change)})
    return ticket.model_copy(update={"stages": stages})


def _swap(people: Sequence[Approver], change: RosterChange) -> list[Approver]:
    if change.replaces is None:
        return [*people, change.approver]
    return [change.approver if a.account_id == change.replaces else a for a in people]


class Colleague(Wire):
    """Who takes a request over; type and region default to those of the one handing over
    (as a delegate's card is routed with the delegator's)."""

    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")
    display_name: Text | None = Field(None, min_length=1, max_length=200)
    account_type: AccountType | None = None
    region: str | None = Field(None, min_length=2, max_length=32, pattern=r"^[a-z0-9-]+$")


async def add_from_step(
    uow: UnitOfWork, step: StepJob, now: datetime, plan: Planner
) -> tuple[Approver, ...]:
    """Add the step's approvers to the open stage and plan their cards; who was added (none:
    the request closed, or each of them is, or was, an approver of it: a step that runs again
    after a crash finds those it added)."""
    request = await _locked(uow, step.request_id)
    if request is None or not _open(request, now):
        return ()
    rung = request.ticket.escalation[step.number]
    known = _ever(request)
    joining = [a for a in rung.add_approvers or () if a.account_id not in known]
    if not joining:
        return ()
    stage = _current(request)
    added = [
        RosterChange(kind="added", stage=stage, approver=a, by=step.key, at=now) for a in joining
    ]
    current = await _record(uow, request, added)
    for approver in joining:
        await plan(uow, current, approver, now)
    await _redraw(uow, current, now)
    names = ", ".join(a.account_id for a in joining)
    detail = f"escalation step {step.number}: {names} (stage {stage + 1})"
    await uow.ledger.audit(now, "escalation", ADDED, request.ticket.ticket_id, detail, "timer")
    return tuple(joining)


async def hand_over(
    uow: UnitOfWork,
    ticket_id: str,
    giver: str,
    to: Colleague,
    now: datetime,
    plan: Planner,
    source: str,
    answered: str | None = None,
) -> tuple[StoredRequest, Approver]:
    """``giver`` hands the request to ``to``, who replaces them in the open stage and gets a
    card; the giver's cards are redrawn saying so. Refused (field by field) when the request
    is closed, the giver is not awaited in the open stage (or voted), or ``to`` is the
    submitter or already an approver of the request. ``answered``: the giver's card whose
    click asked for it, redrawn by the click's answer (see :func:`redraw.after_vote`)."""
    found = await uow.requests.find(ticket_id)
    if found is None:
        raise NotFound(f"no request for ticket {ticket_id}")
    request = await _locked(uow, found.id)
    assert request is not None  # found a moment ago, and requests are never deleted
    if not _open(request, now):
        why = f"the request is already {_status(request, now)}"
        raise Conflict(f"ticket {ticket_id}: {why}", {"ticket_id": why})
    giving = _awaited(request, giver)
    taker = _taker(request, giving, to)
    stage = _current(request)
    change = RosterChange(
        kind="handed_over",
        stage=stage,
        approver=taker,
        replaces=giver,
        replaced_name=giving.display_name,
        by=giver,
        at=now,
    )
    current = await _record(uow, request, [change])
    await plan(uow, current, taker, now)
    await _mark_handed(uow, current, giving, taker, now)
    if answered is None:
        await _redraw(uow, current, now)
    else:  # as after a vote: every card held, the picker's own once its answer is out
        await redraw.after_vote(uow, current, now, answered=answered)
    detail = f"to {taker.account_id} (stage {stage + 1})"
    await uow.ledger.audit(now, giver, HAND_OVER, ticket_id, detail, source)
    return await _reload(uow, request.id), taker


def handed(request: StoredRequest, account_id: str) -> bool:
    """Whether ``account_id`` handed the request over and is no approver of it since."""
    gave = any(c.replaces == account_id for c in request.changes)
    return gave and request.approver(account_id) is None


def refusal(request: StoredRequest, giver: str, taker: str) -> ActionStatus | None:
    """Why ``giver`` cannot hand the open request (with its votes) to the account ``taker``,
    as a click's answer; None when :func:`hand_over` will take it."""
    progress = outcome(Policy.from_request(request.ticket), request.votes)
    if all(a.account_id != giver for a in progress.awaited):
        voted = any(v.account_id == giver for v in request.votes)
        return ActionStatus.ALREADY_VOTED if voted else ActionStatus.STAGE_PASSED
    if taker == request.ticket.submitter.account_id:
        return ActionStatus.TAKER_SUBMITTER
    if _joined_before(request, taker):
        return ActionStatus.TAKER_APPROVER
    return None


def not_takers(request: StoredRequest) -> set[str]:
    """Who the request cannot be handed over to: its submitter and its approvers, now, before
    (handed over) or to be added by its escalation."""
    return {request.ticket.submitter.account_id} | _ever(request) | _to_be_added(request)


def candidates(request: StoredRequest, bound: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The addresses a card's hand-over picker offers: of ``bound`` (account_id, address) on
    the card's channel, in account order, the first :data:`CANDIDATES` who may take the
    request over (a card stays small; bindings carry no display names to order by)."""
    excluded = not_takers(request)
    return tuple(address for account, address in bound if account not in excluded)[:CANDIDATES]


def _joined_before(request: StoredRequest, account_id: str) -> bool:
    return account_id in _ever(request) or account_id in _to_be_added(request)


def _awaited(request: StoredRequest, giver: str) -> Approver:
    progress = outcome(Policy.from_request(request.ticket), request.votes)
    approver = next((a for a in progress.awaited if a.account_id == giver), None)
    if approver is not None:
        return approver
    if any(v.account_id == giver for v in request.votes):
        why = "has already voted: a vote cannot be handed over"
    else:
        why = "is not an approver the open stage awaits"
    raise Conflict(f"{giver} {why}", {"account_id": why})


def _taker(request: StoredRequest, giving: Approver, to: Colleague) -> Approver:
    if to.account_id == request.ticket.submitter.account_id:
        why = "is the submitter, who cannot approve their own request"
        raise InvalidInput(f"{to.account_id} {why}", {"to.account_id": why})
    if _joined_before(request, to.account_id):
        why = "is already an approver of this request"
        raise InvalidInput(f"{to.account_id} {why}", {"to.account_id": why})
    return Approver(
        account_id=to.account_id,
        display_name=to.display_name or to.account_id,
        account_type=to.account_type or giving.account_type,
        region=to.region or giving.region,
    )


def _ever(request: StoredRequest) -> set[str]:
    # Approvers now, and those who were (handed over): nobody joins twice.
    ticket = request.ticket
    now = [*ticket.approvers, *(a for s in ticket.stages or () for a in s.approvers)]
    before = {c.replaces for c in request.changes if c.replaces}
    return {a.account_id for a in now} | before


def _to_be_added(request: StoredRequest) -> set[str]:
    rungs = request.ticket.escalation
    return {a.account_id for r in rungs for a in r.add_approvers or ()}


async def _mark_handed(
    uow: UnitOfWork, request: StoredRequest, giving: Approver, taker: Approver, now: datetime
) -> None:
    # The giver's cards: one still queued goes nowhere; one they hold is redrawn (_redraw).
    detail = f"handed over to {taker.display_name} ({taker.account_id})"
    for delivery in request.deliveries:
        if delivery.account_id != giving.account_id:
            continue
        if delivery.state is DeliveryState.QUEUED:
            await uow.deliveries.set_state(delivery.id, DeliveryState.SKIPPED, now, detail)
        elif delivery.state in redraw.SHOWN:
            await uow.deliveries.set_state(delivery.id, delivery.state, now, detail)


async def _redraw(uow: UnitOfWork, request: StoredRequest, now: datetime) -> None:
    # Every card held shows the roster as it stands (the progress line names who is awaited;
    # a card handed over says to whom). A redraw still waiting will draw it too.
    for delivery in request.deliveries:
        if delivery.state in redraw.SHOWN:
            await uow.outbox.enqueue_redraw(
                redraw.UPDATE_CARD, delivery.id, now, channel=delivery.channel
            )


async def _locked(uow: UnitOfWork, request_id: str) -> StoredRequest | None:
    # As a click: changes to the roster and votes take turns, each seeing the other's.
    await uow.requests.lock(request_id, exclusive=True)
    request = await uow.requests.get(request_id)
    if request is None:
        return None
    return request.with_votes(await uow.votes.of_request(request.id))


async def _record(
    uow: UnitOfWork, request: StoredRequest, changes: list[RosterChange]
) -> StoredRequest:
    await uow.requests.set_changes(request.id, [*request.changes, *changes])
    current = await _reload(uow, request.id)
    return current.with_votes(request.votes)


async def _reload(uow: UnitOfWork, request_id: str) -> StoredRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"request {request_id} vanished")
    return request


def _open(request: StoredRequest, now: datetime) -> bool:
    return request.status is RequestStatus.PENDING and now < request.ticket.expires_at


def _status(request: StoredRequest, now: datetime) -> str:
    return "expired" if request.status is RequestStatus.PENDING else str(request.status)


def _current(request: StoredRequest) -> int:
    current = outcome(Policy.from_request(request.ticket), request.votes).current
    assert current is not None  # a pending request has an open stage
    return current
