"""ApprovalService: the approval rules, applied inside one transaction per state change.

Every change of state commits together with the outbox jobs it implies (send a card, update
cards, forward a decision), so a crash can lose neither: the worker finds the jobs on restart.

Over 400 lines on purpose: every way a request closes is here, together: a withdrawal, a
console decision and expiry through the one ``_close``, which also settles a race with another
replica's close of the same request, and a click through ``_decide``, under the request's lock,
where that race cannot happen (the others wait for its commit); split up, each would need its
own copy of those rules.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot import tracing
from bot.core import delegation, forwards, redraw, roster, tell_submitter, vote_events, voting
from bot.core.batched_writes import BatchedWrites
from bot.core.forwards import POLICY as POLICY  # who decided at expiry, re-exported
from bot.core.intake import ApprovalRequest, Approver, Person, Wire
from bot.core.models import (
    ActionResult,
    ActionStatus,
    ClickAction,
    Decision,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Entity,
    ForwardState,
    InboundAction,
    Outcome,
    RequestStatus,
    StoredRequest,
    Vote,
)
from bot.core.policy import Policy, Progress, admit, outcome
from bot.core.ports import (
    Clock,
    IdentityNotice,
    RequestJob,
    Routes,
    Store,
    UnitOfWork,
    Wakeup,
    within,
)
from bot.core.redraw import UPDATE_CARD as UPDATE_CARD  # the job kind, re-exported for callers
from bot.core.route_planner import Router
from bot.core.tell_submitter import TELL_IDENTITY as TELL_IDENTITY  # re-exported for callers
from bot.core.timing import now as remind
from bot.core.timing import steps
from bot.core.timing.policy import TimingPolicy
from bot.errors import Conflict, InvalidInput, NotFound

SEND_CARD = "send_card"
FORWARD_DECISION = "forward_decision"
NO_CHANNEL = "none"
_AT_EXPIRY = {
    "reject": (RequestStatus.REJECTED, Outcome.REJECTED),
    "approve": (RequestStatus.APPROVED, Outcome.APPROVED),
}


class PlannedDelivery(Entity):
    """A delivery as the submitter is told about it."""

    delivery_id: str
    account_id: str
    channel: str
    state: DeliveryState
    reason: str | None = None


class SubmitReceipt(Entity):
    """The answer to a submission."""

    request_id: str
    ticket_id: str
    status: RequestStatus
    deliveries: tuple[PlannedDelivery, ...]


class Withdrawal(Wire):
    """The backend closes a request: withdrawn, or decided in the console."""

    reason: str = "withdrawn"
    outcome: Outcome | None = None
    decided_by: Person | None = None
    comment: str | None = None


class RequestTrace(Entity):
    """A request with its votes, and its outbox jobs a trace shows (steps, the notice)."""

    request: StoredRequest
    jobs: tuple[RequestJob, ...] = ()


async def read_trace(uow: UnitOfWork, ticket_id: str) -> RequestTrace:
    """Read the trace of ``ticket_id`` in ``uow``; NotFound when there is no such request."""
    request = await uow.requests.find(ticket_id)
    if request is None:
        raise NotFound(f"no request for ticket {ticket_id}")
    votes = await uow.votes.of_request(request.id)
    jobs = await uow.outbox.of_request(request.id)
    return RequestTrace(request=request.with_votes(votes), jobs=tuple(jobs))


def new_id() -> str:
    """A random id for requests, deliveries and decision events."""
    return uuid.uuid4().hex


class ApprovalService:
    """Submissions, clicks, withdrawals and expiry: every rule about a request's life."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        router: Router,
        wakeup: Wakeup,
        timing: TimingPolicy | None = None,
        *,
        vote_events: bool = False,
    ) -> None:
        self._store = store
        self._vote_events = vote_events  # an approval.vote event per counted vote
        self._clock = clock
        self._router = router
        self._wakeup = wakeup
        self._timing = timing or TimingPolicy()
        # The answers that come back together are recorded together: one unit for the clicks
        # of a burst instead of a BEGIN and COMMIT each on the loop that answers them.
        self._answers = BatchedWrites(store, "click-answers")

    @property
    def router(self) -> Router:
        """Where approvers are reached (the job runner's reminders use it too)."""
        return self._router

    async def submit(self, ticket: ApprovalRequest, uow: UnitOfWork | None = None) -> SubmitReceipt:
        """Store the request and plan its deliveries, in one unit of work: ``uow`` when given
        (the signed call's, committing with its kept answer), else one of its own. The worker
        is woken for the cards once that unit has committed."""
        now = self._clock.now()
        if ticket.expires_at <= now:
            raise InvalidInput("the request has already expired", {"expires_at": "in the past"})
        request_id = new_id()  # known before the work: the trace and the log lines carry it
        with tracing.intake(request_id, ticket.ticket_id, approvers=len(ticket.approvers)):
            async with within(self._store, uow) as unit:
                receipt = await self._create(unit, ticket, now, request_id)
                unit.on_commit(functools.partial(self._wakeup.notify, SEND_CARD))
        return receipt

    async def _create(
        self, uow: UnitOfWork, ticket: ApprovalRequest, now: datetime, request_id: str
    ) -> SubmitReceipt:
        request = StoredRequest(
            id=request_id, ticket=ticket, status=RequestStatus.PENDING, created_at=now
        )
        if not await uow.requests.insert(request):
            raise Conflict(f"ticket {ticket.ticket_id} was already submitted")
        # Only the first stage's cards go now; each later stage's when the one before approves.
        # Routed from one read (delegations and every approver's bindings): their deliveries,
        # written after it, go to the store together.
        first = voting.first_stage(request)
        routes = await uow.identities.routes([a.account_id for a in first], now)
        planned = [
            await self._plan(uow, request, approver, now, routes=routes) for approver in first
        ]
        # The steps, written with the request: a crash loses neither, a restart repeats none.
        # (Most requests have none: they pay no reload for them.)
        if self._timing.has_steps(ticket):
            await steps.schedule(
                uow, await _reload(uow, request.id), self._timing, self._router.urgency
            )
        return SubmitReceipt(
            request_id=request.id,
            ticket_id=ticket.ticket_id,
            status=request.status,
            deliveries=tuple(planned),
        )

    async def _plan(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        approver: Approver,
        now: datetime,
        exclude: frozenset[str] = frozenset(),
        *,
        routes: Routes | None = None,
    ) -> PlannedDelivery:
        # An approver away: the card goes to whoever acts for them (the delivery stays theirs,
        # so the vote counts as theirs), and they are told where it went. ``routes``: what the
        # stage's routing read at once (else read here).
        acting = await _acting(uow, request, approver, now, routes)
        # (Mostly the approver themself: no copy of them then.)
        target = (
            approver
            if acting.actor == approver.account_id
            else approver.model_copy(update={"account_id": acting.actor})
        )
        with tracing.span("approval.route", account_id=approver.account_id):
            plan = await self._router.plan(uow.identities, target, exclude, routes)
        choice = plan.choices[0] if plan.choices else None
        state = DeliveryState.QUEUED if choice else DeliveryState.UNREACHABLE
        # The trace says why a channel the approver is bound on was passed over.
        detail = plan.unreachable_reason or "; ".join(plan.skipped)
        if len(acting.chain) > 1 or acting.note:
            detail = "; ".join(p for p in (_delegated(acting), detail) if p)
        delivery = Delivery(
            id=new_id(),
            request_id=request.id,
            account_id=approver.account_id,
            channel=choice.channel if choice else NO_CHANNEL,
            address=choice.address if choice else None,
            state=state,
            reason=plan.unreachable_reason,
            created_at=now,
            updated_at=now,
            history=(DeliveryEvent(at=now, state=state, detail=detail),),
        )
        # The card's job goes with its delivery (one statement on PostgreSQL).
        await uow.deliveries.insert(delivery, SEND_CARD if choice else None)
        if choice and len(acting.chain) > 1 and not exclude:
            await self._tell_delegator(uow, request, approver, acting, now, routes)
        return PlannedDelivery(
            delivery_id=delivery.id,
            account_id=delivery.account_id,
            channel=delivery.channel,
            state=state,
            reason=delivery.reason,
        )

    async def _tell_delegator(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        approver: Approver,
        acting: delegation.Resolution,
        now: datetime,
        routes: Routes | None,
    ) -> None:
        # A short notice on the delegator's own first channel; none reachable: nothing to send.
        plan = await self._router.plan(uow.identities, approver, routes=routes)
        if not plan.choices:
            return
        choice = plan.choices[0]
        text = (
            f"Approval {request.ticket.ticket_id} \u00b7 {request.ticket.title}: "
            f"your card went to {acting.actor}, who acts for you while you are away."
        )
        notice = IdentityNotice(channel=choice.channel, address=choice.address, text=text)
        ref = f"{request.id}/delegated/{approver.account_id}"
        await uow.outbox.enqueue(TELL_IDENTITY, ref, now, notice.model_dump_json())
        uow.on_commit(functools.partial(self._wakeup.notify, TELL_IDENTITY))

    async def reroute(self, uow: UnitOfWork, failed: Delivery, why: str) -> PlannedDelivery | None:
        """After a permanent send failure, plan the approver's next usable channel.

        Channels that already failed this approver on this request are skipped, so a chain of
        failures ends on email or ``unreachable`` instead of looping.
        """
        request = await _reload(uow, failed.request_id)
        approver = request.approver(failed.account_id)
        if approver is None or request.status is not RequestStatus.PENDING:
            return None
        tried = frozenset(
            d.channel
            for d in request.deliveries
            if d.account_id == failed.account_id and d.state is DeliveryState.FAILED
        )
        planned = await self._plan(
            uow, request, approver, self._clock.now(), tried | {failed.channel}
        )
        where = planned.channel if planned.state is DeliveryState.QUEUED else "nowhere"
        await uow.deliveries.set_state(
            failed.id, DeliveryState.FAILED, self._clock.now(), f"{why}; falling back to {where}"
        )
        return planned

    async def get(self, ticket_id: str) -> StoredRequest:
        """The request with its deliveries, their history, the votes and the decision."""
        return (await self.trace(ticket_id)).request

    async def trace(self, ticket_id: str) -> RequestTrace:
        """The request as :meth:`get` reads it, with its steps and its submitter's notice."""
        async with self._store.snapshot() as uow:
            return await read_trace(uow, ticket_id)

    async def handle_action(self, action: InboundAction) -> ActionResult:
        """Apply a click: the first valid decision wins, everything else is answered."""
        # Urgent: the clicker waits for this answer, and the backend for the decision, however
        # many card sends are queued for the store at this moment.
        async with self._store.unit(urgent=True) as uow:
            now = self._clock.now()
            result = await self._apply(uow, action, now)
            if result.status is ActionStatus.DECIDED:
                wakes = (FORWARD_DECISION, *redraw.wakes(result.request))
                uow.on_commit(functools.partial(self._wakeup.notify, *wakes))
            elif not result.ok:  # a vote and a hand-over are audited as such
                await _audit_refusal(uow, action, result, now)
        return result

    async def answered(self, result: ActionResult, *, redrawn: bool, how: str = "") -> None:
        """The channel's word on a decided click's answer: card redrawn, or redraw it now."""
        delivery = result.delivery
        if not result.changed_card or delivery is None:
            return

        async def record(uow: UnitOfWork) -> None:
            queued = await redraw.after_answer(
                uow, delivery.id, self._clock.now(), redrawn=redrawn, how=how
            )
            if queued:
                uow.on_commit(functools.partial(self._wakeup.notify, redraw.wake(delivery.channel)))

        await self._answers.write(record)

    async def _apply(self, uow: UnitOfWork, action: InboundAction, now: datetime) -> ActionResult:
        if action.action is ClickAction.TEST:
            # Test cards (support's test sends) are not stored requests: a toast, nothing else.
            return ActionResult(status=ActionStatus.TEST, ref=action.ref)
        # Clicks on one request take turns here, on every replica: each counts the votes with
        # the others' in, and only one of them can find the outcome reached. Read once, under
        # the lock: nothing this unit reads later changes under it (a card send takes the lock
        # too, jobs.py), so the click needs no second read of the request.
        request = await uow.requests.for_vote(action.ref, action.channel)
        card = _card(request, action.ref)
        if request is None or card is None:
            return ActionResult(status=ActionStatus.UNKNOWN_CARD)
        clicker = _clicker_delivery(request, action)
        if clicker is None:
            return ActionResult(status=ActionStatus.NOT_APPROVER, delivery=card)
        if roster.handed(request, clicker.account_id):
            return ActionResult(status=ActionStatus.HANDED_OVER, request=request, delivery=clicker)
        voter = await self._voter(uow, request, clicker, action, now)
        if voter is None:
            # The request only sets the toast's language: no card is redrawn for this identity.
            return ActionResult(status=ActionStatus.UNLINKED, request=request)
        if request.status is RequestStatus.PENDING and now >= request.ticket.expires_at:
            await self._expire(uow, request, now)
            request = (await _reload(uow, request.id)).with_votes(request.votes)
        if request.status is not RequestStatus.PENDING:
            status = ActionStatus.ALREADY_DECIDED if request.decision else ActionStatus.CLOSED
            return ActionResult(status=status, request=request, delivery=clicker)
        if action.action is ClickAction.REJECT and not action.comment:
            return ActionResult(
                status=ActionStatus.REASON_REQUIRED, request=request, delivery=clicker
            )
        if action.action is ClickAction.HAND_OVER:
            return await self._picked(uow, request, clicker, action, now)
        return await self._vote(uow, request, clicker, action, now, voter)

    async def _picked(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        clicker: Delivery,
        action: InboundAction,
        now: datetime,
    ) -> ActionResult:
        # A person picked on the card (Lark's select_person): their chat identity is an account
        # through that channel's binding, as the clicker's is; the hand-over is then the API's,
        # in the click's unit, its refusals answered as toasts.
        request = request.with_votes(await uow.votes.of_request(request.id))
        taker = await uow.identities.binding_owner(action.channel, action.to or "")
        refused = (
            ActionStatus.TAKER_UNBOUND
            if taker is None
            else roster.refusal(request, clicker.account_id, taker)
        )
        if refused is not None or taker is None:
            refused = refused or ActionStatus.TAKER_UNBOUND
            return ActionResult(status=refused, request=request, delivery=clicker)
        ticket_id, to = request.ticket.ticket_id, roster.Colleague(account_id=taker)
        current, joined = await roster.hand_over(
            uow, ticket_id, clicker.account_id, to, now, self._plan, action.source, clicker.id
        )
        await self._joined(uow, current.id, (joined,), now)
        votes = await uow.votes.of_request(current.id)
        return ActionResult(
            status=ActionStatus.HANDED, request=current.with_votes(votes), delivery=clicker
        )

    async def _vote(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        clicker: Delivery,
        action: InboundAction,
        now: datetime,
        voter: str,
    ) -> ActionResult:
        # The click as a vote under the request's policy (a request without one: the first
        # vote decides, as it always has); the outcome, once reached, is decided here once.
        policy = Policy.from_request(request.ticket)
        votes = list(request.votes)
        now = _counted_at(now, votes)
        vote = _admitted(policy, votes, request, clicker, action, now, voter)
        if not isinstance(vote, Vote):
            return ActionResult(status=vote, request=request.with_votes(votes), delivery=clicker)
        # Admitted against the votes read under the request's lock: no vote of it can be
        # stored meanwhile (a double tap waits for this commit, then admit refuses it), so the
        # vote and all that follows from it are writes nothing needs to read back.
        await uow.votes.add_held(request.id, vote)
        await self._announce(uow, request, vote)
        before, after = outcome(policy, votes), outcome(policy, [*votes, vote])
        votes = [*votes, vote]
        if after.outcome is None:
            current = await self._progressed(uow, request, policy, (before, after), clicker, now)
            await _audit_vote(uow, request, vote, action)
            return ActionResult(
                status=ActionStatus.VOTED, request=current.with_votes(votes), delivery=clicker
            )
        decided = await self._decide(uow, request, clicker, action, now, votes)
        return ActionResult(
            status=ActionStatus.DECIDED, request=decided.with_votes(votes), delivery=clicker
        )

    async def _announce(self, uow: UnitOfWork, request: StoredRequest, vote: Vote) -> None:
        # In the vote's unit: its event commits with it, once, or not at all.
        if self._vote_events:
            await vote_events.enqueue(uow, request.id, vote)
            uow.on_commit(functools.partial(self._wakeup.notify, vote_events.FORWARD_VOTE))

    async def _progressed(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        policy: Policy,
        progress: tuple[Progress, Progress],
        clicker: Delivery,
        now: datetime,
    ) -> StoredRequest:
        # A vote that leaves the request pending: the next stage's cards if it opened one,
        # and every card redrawn with the new tally (the clicker's after the click's answer).
        # The request was read under its lock: read again only for the cards planned here,
        # routed from one read as a submission's are.
        current = request
        opened = voting.opened(policy, *progress, request)
        if opened:
            routes = await uow.identities.routes([a.account_id for a in opened], now)
            for approver in opened:
                await self._plan(uow, request, approver, now, routes=routes)
            uow.on_commit(functools.partial(self._wakeup.notify, SEND_CARD))
            current = await _reload(uow, request.id)
        await redraw.after_vote(uow, current, now, answered=clicker.id)
        uow.on_commit(functools.partial(self._wakeup.notify, *redraw.wakes(current)))
        return current

    async def _voter(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        clicker: Delivery,
        action: InboundAction,
        now: datetime,
    ) -> str | None:
        # Who clicked, read in the click's own transaction: the approver, or whoever acts for
        # them now (``delegation.resolve``); None when neither is bound to the clicking identity.
        # A binding removed or moved after the card was sent takes the card's authority with it
        # (the delivery's address is only history), and so does a delegation that ended.
        approver = request.approver(clicker.account_id)
        if approver is None:
            return None
        # The approver's own binding first: a match is theirs whoever acts for them, so the
        # delegations are read only when it is not.
        if await self._router.address(uow.identities, approver, action.channel) == action.actor:
            return approver.account_id
        acting = await _acting(uow, request, approver, now)
        if acting.actor == approver.account_id:
            return None
        whose = approver.model_copy(update={"account_id": acting.actor})
        if await self._router.address(uow.identities, whose, action.channel) == action.actor:
            return acting.actor
        return None

    async def _decide(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        clicker: Delivery,
        action: InboundAction,
        at: datetime,
        votes: list[Vote],
    ) -> StoredRequest:
        """Record the click's decision: the request as it now stands (closed, with the
        decision). It was read pending under its exclusive lock, so no other transaction (a
        replica's click, a withdrawal, the expiry sweep) can close it first: each waits for
        this commit, then finds it closed."""
        approver = request.approver(clicker.account_id)
        assert approver is not None
        outcome = Outcome.APPROVED if action.action is ClickAction.APPROVE else Outcome.REJECTED
        decision = Decision(
            id=new_id(),
            request_id=request.id,
            outcome=outcome,
            account_id=approver.account_id,
            display_name=approver.display_name,
            channel=action.channel,
            comment=action.comment,
            decided_at=at,
            source=action.source,
            forward_state=ForwardState.PENDING,
        )
        status = RequestStatus(outcome.value)
        await uow.requests.close_held(request.id, status, at, None)  # its steps too
        # The cards as read under the lock: a card whose send committed before it was granted
        # is among them; one committing later sees the request closed (redraw.after_send).
        current = request.model_copy(update={"status": status, "closed_at": at})
        await redraw.after_close(uow, current, at, answered=clicker.id)
        # The forward carries its event: every vote is in hand (bot.core.forwards).
        event = forwards.payload(decision, current.with_votes(votes))
        await uow.requests.insert_decision(decision, FORWARD_DECISION, payload=event)
        await tell_submitter.queue(uow, self._router, current, decision, at, votes)
        await uow.ledger.audit(
            at,
            approver.account_id,
            f"decision.{outcome.value}",
            request.ticket.ticket_id,
            f"via {action.channel} as {action.actor}",
            action.source,
        )
        # What a reload would read now, without its four queries: the decision and its jobs
        # change none of the rows the close just read back.
        return current.model_copy(update={"decision": decision})

    async def _close(
        self,
        uow: UnitOfWork,
        request: StoredRequest,
        status: RequestStatus,
        at: datetime,
        reason: str | None,
    ) -> bool:
        # False: the request was pending when read (without its lock), but another transaction
        # (a replica's click, withdrawal or expiry sweep) closed it before this one could; each
        # caller says what that means for it. Only one of them ever closes it.
        if not await uow.requests.close(request.id, status, at, reason):  # its steps too
            return False
        # The cards as they are now that this transaction holds the request's row: a card whose
        # send committed since the request was read must be redrawn too (a send committing
        # later sees the request closed: redraw.after_send).
        await redraw.after_close(uow, await _reload(uow, request.id), at)
        return True

    async def withdraw(
        self, ticket_id: str, body: Withdrawal, uow: UnitOfWork | None = None
    ) -> StoredRequest:
        """Close a pending request from the backend's side; idempotent for a repeat. In
        ``uow`` when given (the signed call's), else in a unit of its own."""
        now = self._clock.now()
        async with within(self._store, uow) as unit:
            return await self._withdraw(unit, ticket_id, body, now)

    async def remind_now(
        self, ticket_id: str, *, by: str, source: str, uow: UnitOfWork | None = None
    ) -> remind.RemindNowResult:
        """Queue a reminder now for each approver the request still awaits and not reminded
        lately (``bot.core.timing.now``); in ``uow`` when given (the signed call's)."""
        now = self._clock.now()
        async with within(self._store, uow) as unit:
            result = await remind.remind_now(
                unit, ticket_id, now, self._timing, self._router.urgency, by=by, source=source
            )
            if result.reminded:
                unit.on_commit(functools.partial(self._wakeup.notify, steps.TIMING_STEP))
        return result

    async def add_approvers(self, step: steps.StepJob) -> tuple[Approver, ...]:
        """Run an ``add_approvers`` escalation step (:mod:`bot.core.roster`): the newcomers
        join the open stage, with their cards, their reminders and every card's redraw in one
        unit; who joined (none when the request closed or the step already ran)."""
        async with self._store.unit() as uow:
            now = self._clock.now()
            added = await roster.add_from_step(uow, step, now, self._plan)
            if added:
                await self._joined(uow, step.request_id, added, now)
        return added

    async def hand_over(
        self,
        ticket_id: str,
        giver: str,
        to: roster.Colleague,
        *,
        source: str,
        uow: UnitOfWork | None = None,
    ) -> StoredRequest:
        """``giver`` hands the request to ``to`` (:func:`bot.core.roster.hand_over`); in
        ``uow`` when given (the signed call's). The request as it now stands."""
        now = self._clock.now()
        async with within(self._store, uow) as unit:
            request, taker = await roster.hand_over(
                unit, ticket_id, giver, to, now, self._plan, source
            )
            await self._joined(unit, request.id, (taker,), now)
        return request

    async def _joined(
        self, uow: UnitOfWork, request_id: str, who: Sequence[Approver], now: datetime
    ) -> None:
        # The newcomers' reminders, from now on, as the others' were planned at intake.
        request = await _reload(uow, request_id)
        if self._timing.has_steps(request.ticket):
            request = request.with_votes(await uow.votes.of_request(request_id))
            joined = ({a.account_id for a in who}, now)
            await steps.schedule(uow, request, self._timing, self._router.urgency, joined)
        kinds = (SEND_CARD, UPDATE_CARD, steps.TIMING_STEP)
        uow.on_commit(functools.partial(self._wakeup.notify, *kinds))

    async def _withdraw(
        self, uow: UnitOfWork, ticket_id: str, body: Withdrawal, now: datetime
    ) -> StoredRequest:
        request = await uow.requests.find(ticket_id)
        if request is None:
            raise NotFound(f"no request for ticket {ticket_id}")
        if _already_closed_this_way(request, body):
            return request
        closed = request.status is RequestStatus.PENDING and await self._close_from_console(
            uow, request, body, now
        )
        request = await _reload(uow, request.id)
        if not closed:
            if _already_closed_this_way(request, body):
                return request  # closed the same way meanwhile: the repeat's answer
            raise Conflict(f"ticket {ticket_id} is already {request.status}")
        uow.on_commit(self._wakeup.notify)
        return request

    async def _close_from_console(
        self, uow: UnitOfWork, request: StoredRequest, body: Withdrawal, now: datetime
    ) -> bool:
        # False: a click (or another replica's withdrawal) closed it first; nothing recorded.
        ticket_id = request.ticket.ticket_id
        if body.reason == "withdrawn":
            if not await self._close(uow, request, RequestStatus.WITHDRAWN, now, "withdrawn"):
                return False
            await uow.ledger.audit(now, "backend", "request.withdraw", ticket_id, "", "backend")
            return True
        if body.outcome is None or body.decided_by is None:
            raise InvalidInput(
                "a console decision names its outcome and who decided",
                {"outcome": "required when reason is decided", "decided_by": "required"},
            )
        status = RequestStatus(body.outcome.value)
        if not await self._close(uow, request, status, now, "decided in the console"):
            return False
        decision = Decision(
            id=new_id(),
            request_id=request.id,
            outcome=body.outcome,
            account_id=body.decided_by.account_id,
            display_name=body.decided_by.display_name,
            channel="console",
            comment=body.comment,
            decided_at=now,
            source="backend",
            forward_state=ForwardState.NOT_NEEDED,
        )
        await uow.requests.insert_decision(decision)
        await tell_submitter.queue(
            uow, self._router, request.model_copy(update={"status": status}), decision, now
        )
        await uow.ledger.audit(
            now,
            body.decided_by.account_id,
            f"decision.{body.outcome.value}",
            ticket_id,
            "decided in the console",
            "backend",
        )
        return True

    async def expire_due(self, limit: int = 100) -> int:
        """Close pending requests past their deadline as their ``on_expiry`` says; how many."""
        now = self._clock.now()
        closed = 0
        async with self._store.unit() as uow:
            for request_id in await uow.requests.due_for_expiry(now, limit):
                request = await _reload(uow, request_id)
                # Another replica's sweep (or a last click) may have closed it since it was read.
                closed += await self._expire(uow, request, now)
            if closed:
                uow.on_commit(self._wakeup.notify)
        return closed

    async def _expire(self, uow: UnitOfWork, request: StoredRequest, now: datetime) -> bool:
        """Close a request at its deadline: expired, or decided by the policy (one decision,
        forwarded like an approver's). False when another transaction closed it first."""
        outcome = self._timing.outcome_for(request.ticket)
        if outcome == "approve" and not self._timing.allow_auto_approve:
            outcome = "expire"  # the deployment stopped allowing it since the request came in
        if outcome not in _AT_EXPIRY:
            if not await self._close(uow, request, RequestStatus.EXPIRED, now, "expired"):
                return False
            closed = request.model_copy(update={"status": RequestStatus.EXPIRED})
            await tell_submitter.queue(uow, self._router, closed, None, now)
            return True
        status, decided = _AT_EXPIRY[outcome]
        reason = f"{status.value} at expires_at (on_expiry)"
        if not await self._close(uow, request, status, now, reason):
            return False
        decision = _policy_decision(request, decided, now)
        await uow.requests.insert_decision(decision, FORWARD_DECISION)
        await tell_submitter.queue(
            uow, self._router, request.model_copy(update={"status": status}), decision, now
        )
        await uow.ledger.audit(
            now, POLICY, f"decision.{decided.value}", request.ticket.ticket_id, reason, POLICY
        )
        return True


async def _acting(
    uow: UnitOfWork,
    request: StoredRequest,
    approver: Approver,
    at: datetime,
    routes: Routes | None = None,
) -> delegation.Resolution:
    delegations = routes.delegations if routes else await uow.delegations.current(at)
    submitter = request.ticket.submitter.account_id
    return delegation.resolve(approver.account_id, at, delegations, submitter)


def _delegated(acting: delegation.Resolution) -> str:
    said = f"delegated: {' -> '.join(acting.chain)}" if len(acting.chain) > 1 else ""
    return "; ".join(p for p in (said, acting.note) if p)


def _policy_decision(request: StoredRequest, outcome: Outcome, at: datetime) -> Decision:
    return Decision(
        id=new_id(),
        request_id=request.id,
        outcome=outcome,
        account_id=POLICY,
        display_name="on_expiry",
        channel=POLICY,
        comment=f"nobody decided before expires_at: {outcome.value} by on_expiry",
        decided_at=at,
        source=POLICY,
        forward_state=ForwardState.PENDING,
    )


def _admitted(
    policy: Policy,
    votes: list[Vote],
    request: StoredRequest,
    clicker: Delivery,
    action: InboundAction,
    now: datetime,
    voter: str,
) -> Vote | ActionStatus:
    # The vote to store (who voted, under which name, on which channel), or the refusal's answer.
    # A delegate's vote is the approver's, recorded under the name "B for A".
    approver = request.approver(clicker.account_id)
    assert approver is not None  # the clicker's card is theirs and they are still bound
    said = Outcome.APPROVED if action.action is ClickAction.APPROVE else Outcome.REJECTED
    admission = admit(policy, votes, approver.account_id, said, now, action.comment)
    if admission.vote is None:
        assert admission.refusal is not None
        return voting.ANSWERS[admission.refusal]
    name = approver.display_name
    if voter != approver.account_id:
        name = f"{voter} for {name}"
    return replace(admission.vote, display_name=name, channel=action.channel)


async def _audit_vote(
    uow: UnitOfWork, request: StoredRequest, vote: Vote, action: InboundAction
) -> None:
    # A vote that did not decide the request is audited as a vote; the deciding one as before.
    await uow.ledger.audit(
        vote.at,
        vote.account_id,
        f"vote.{vote.outcome.value}",
        request.ticket.ticket_id,
        f"stage {vote.stage + 1} via {action.channel} as {action.actor}",
        action.source,
    )


async def _audit_refusal(
    uow: UnitOfWork, action: InboundAction, result: ActionResult, at: datetime
) -> None:
    # A stranger's answer carries no request (nothing about the ticket goes back to them),
    # but the audit names the ticket, found through the card that was clicked.
    request = result.request
    if request is None and result.delivery is not None:
        request = await uow.requests.get(result.delivery.request_id)
    target = request.ticket.ticket_id if request else action.ref
    who = f"{action.channel}:{action.actor}"
    await uow.ledger.audit(at, who, "click.refused", target, result.status.value, action.source)


def _card(request: StoredRequest | None, delivery_id: str) -> Delivery | None:
    # The clicked card among its request's deliveries.
    cards = request.deliveries if request else ()
    return next((d for d in cards if d.id == delivery_id), None)


def _clicker_delivery(request: StoredRequest, action: InboundAction) -> Delivery | None:
    # The clicker is whoever we delivered to on that channel: addresses come from bindings,
    # so a forwarded card clicked by someone else matches no delivery.
    return next(
        (
            d
            for d in request.deliveries
            if d.channel == action.channel and d.address is not None and d.address == action.actor
        ),
        None,
    )


def _already_closed_this_way(request: StoredRequest, body: Withdrawal) -> bool:
    if body.reason == "withdrawn":
        return request.status is RequestStatus.WITHDRAWN
    decision = request.decision
    return (
        decision is not None
        and decision.channel == "console"
        and body.outcome is not None
        and decision.outcome is body.outcome
    )


async def _reload(uow: UnitOfWork, request_id: str) -> StoredRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"request {request_id} vanished")
    return request


def _counted_at(now: datetime, votes: Sequence[Vote]) -> datetime:
    # Votes are counted one at a time under the request's lock, and the rules take them in
    # time order: a click that arrived first on one replica but waited for another's lock is
    # counted after it, so its time is moved past the last vote counted (never before it).
    if not votes:
        return now
    return max(now, max(v.at for v in votes) + timedelta(microseconds=1))
