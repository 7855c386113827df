"""Runs one reminder or escalation step when its job comes due (``bot.core.timing.steps``).

A reminder goes to an approver still to vote, on the channel that brought their card, and
points at that card; it never sends a second live card. Where the step asks for urgency and the
channel offers it, the card itself is made urgent (Lark ``urgent_app|sms|phone`` on the message,
a DingTalk DING). SMS and phone urgency cost the tenant money: they go only where the channel's
admin accepted that cost with its notice (``Nudging.paid``); otherwise, or when the platform
refuses them, in-app urgency goes instead, then a plain message (``tell``). An email escalation
goes to the approver's email route, when routing allows email for them.

Each outcome is one unit: a line in the card's history (so the request's trace says what went
out and why), an audit record, a usage count for a paid urgency, and, when asked for, the step's
signed event to the backend (``bot.core.step_events``).

At most once. A step is an outbox job (``timing_step``, due at its time, in the store): a restart
or a replica's death loses none, since its lease runs out and another worker claims it. But the
job may then run again after its send went out, and urgency cannot be taken back, and SMS and
phone urgency cost money. So each step has a durable mark, by its job's ref (``uow.steps``):

- before the send, one committed unit marks it ``started``. A step found ``done`` already ran
  and was recorded (the process died before the job's completion): nothing happens again. A
  step found ``started`` may have sent before the process died, before its record: it is not
  sent again, and its history line and audit record say so ("not repeated: its send may have
  gone out before a restart"), with no usage count nor step event (what went out is unknown);
- the record's unit marks it ``done`` with the history line, audit, usage count and event;
- a send that fails with a ChannelError (the platform refused it, throttled it, or could not
  be reached) releases the mark before the job's retry: as far as the channel knows nothing
  went out. A call that timed out after it reached the platform may thus go out twice, as
  every retried platform call may; the mark closes the window the channel cannot see: the
  process dying, or a bug raising, between the send and its record.

An ``add_approvers`` step does not come here (``bot.core.roster.add_from_step``): its change is
recorded in the unit that makes it, and a re-run finds its newcomers already approvers. Nor does
an ``on_expiry`` outcome (``ApprovalService.expire_due``): it is decided in the unit that closes
the request, which only a request still pending allows, so it is decided and forwarded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core import step_events
from bot.core.intake import Approver, UrgencyKind
from bot.core.models import Delivery, DeliveryState, Job, StoredRequest
from bot.core.ports import Channel, Clock, StepEvent, StepSent, Store, UnitOfWork
from bot.core.route_planner import EMAIL, Router
from bot.core.timing.steps import StepJob, still_to_vote
from bot.errors import ChannelError
from bot.logs import kv

log = logging.getLogger("bot.nudges")
Pick = Callable[[str, datetime], Channel]
"""The running channel by name, for a job queued at the given time (ChannelError if held)."""
OUT = (DeliveryState.SENT, DeliveryState.UPDATED)
PAID: frozenset[UrgencyKind] = frozenset({"sms", "phone"})  # charged by the platform
TIMER = "timer"  # who and where, in the audit log
NOT_REPEATED = "not repeated: its send may have gone out before a restart"


def _no_paid_urgency(channel: str) -> bool:
    return False


@dataclass(frozen=True)
class Nudging:
    """What the deployment allows the steps: ``paid(channel)`` says whether the channel's
    admin accepted SMS and phone urgency; ``events`` sends each step to the backend."""

    paid: Callable[[str], bool] = _no_paid_urgency
    events: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one step did: its history line, what went out, and on which channel; ``known``
    False when that is unknown (a step not repeated: no usage count nor step event)."""

    detail: str
    sent: StepSent
    channel: str | None
    known: bool = True


class Nudges:
    """Sends the reminder, urgency or email one due step asks for."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        router: Router,
        pick: Pick,
        nudging: Nudging | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._router = router
        self._pick = pick
        self._nudging = nudging or Nudging()

    async def run(self, job: Job) -> None:
        """Run the step, or nothing when its approver voted or its request closed since."""
        step = StepJob.model_validate(job.payload)
        async with self._store.snapshot() as uow:
            request = await uow.requests.get(step.request_id)
            if request is not None:  # who is still awaited depends on the votes so far
                request = request.with_votes(await uow.votes.of_request(request.id))
            approver = _waiting(request, step.account_id) if request else None
            email = None
            if approver is not None and step.action == f"notify:{EMAIL}":
                email = await self._router.email_address(uow.identities, approver)
        card = _card(request, approver) if request and approver else None
        if request is None or approver is None or card is None:
            return  # decided, withdrawn, expired or voted meanwhile; or no card to point at
        of = (request, approver, card)
        if not await self._start(job.ref, of, step):
            return
        outcome = await self._send(job, of, step, email)
        async with self._store.unit() as uow:
            await self._record(uow, job.ref, of, step, outcome)
        log.info("timing step run", extra=kv(step=step.key, detail=outcome.detail))

    async def _send(
        self,
        job: Job,
        of: tuple[StoredRequest, Approver, Delivery],
        step: StepJob,
        email: str | None,
    ) -> Outcome:
        request, _, card = of
        try:
            if step.action == f"notify:{EMAIL}":
                return await self._email(request, email, step, job.created_at)
            return await self._remind(request, card, step, job.created_at)
        except ChannelError:
            async with self._store.unit() as uow:  # nothing went out: the retry may send
                await uow.steps.release(job.ref)
            raise

    async def _start(
        self, ref: str, of: tuple[StoredRequest, Approver, Delivery], step: StepJob
    ) -> bool:
        """Mark the step started; False when an earlier run marked it (see the module doc)."""
        async with self._store.unit() as uow:
            mark = await uow.steps.start(ref, self._clock.now())
            if mark == "started":  # that run died after its send, perhaps, and before its record
                detail = f"{step.label}: {NOT_REPEATED}"
                outcome = Outcome(detail, "nothing", None, known=False)
                await self._record(uow, ref, of, step, outcome)
        if mark is not None:
            log.warning("timing step not run again", extra=kv(step=step.key, mark=mark))
        return mark is None

    async def _remind(
        self, request: StoredRequest, card: Delivery, step: StepJob, queued: datetime
    ) -> Outcome:
        channel = self._pick(card.channel, queued)
        assert card.address is not None  # a card that went out had one
        why: list[str] = []
        ref = card.external_ref or ""  # urgency is on the message sent: none without it
        for kind in self._ladder(step, channel, why) if ref else []:
            try:
                await channel.urge(card.address, ref, kind, reminder_text(request))
            except ChannelError as error:
                if error.retryable:
                    raise
                why.append(f"{kind} urgency refused by {channel.name}: {error.message}")
                continue
            detail = f"{step.label}: {kind} urgency on the original card ({channel.name})"
            return Outcome(detail + _because(why), kind, channel.name)
        await channel.tell(card.address, reminder_text(request))
        detail = f"{step.label}: a plain reminder on {channel.name}"
        return Outcome(detail + _because([step.note, *why]), "message", channel.name)

    def _ladder(self, step: StepJob, channel: Channel, why: list[str]) -> list[UrgencyKind]:
        # The urgency asked for, then the free in-app one; a paid one only with the consent.
        if step.urgent is None:
            return []
        kinds: list[UrgencyKind] = []
        for kind in dict.fromkeys((step.urgent, "app")):
            if kind not in channel.capabilities.urgency:
                why.append(f"{kind} urgency is not offered by {channel.name}")
            elif kind in PAID and not self._nudging.paid(channel.name):
                why.append(
                    f"{kind} urgency not used: {channel.name}'s consent does not accept paid "
                    "urgency (authorize it with paid_urgency: true)"
                )
            else:
                kinds.append(kind)
        return kinds

    async def _email(
        self, request: StoredRequest, address: str | None, step: StepJob, queued: datetime
    ) -> Outcome:
        what = step.label
        if address is None:
            detail = f"{what}: no email sent (routing allows no email for this approver)"
            return Outcome(detail, "nothing", None)
        channel = self._pick(EMAIL, queued)
        subject = f"Waiting for your decision: {request.ticket.title}"[:200]
        await channel.notify(address, subject, reminder_text(request))
        return Outcome(f"{what}: an email reminder to {address}", "email", channel.name)

    async def _record(
        self,
        uow: UnitOfWork,
        ref: str,
        of: tuple[StoredRequest, Approver, Delivery],
        step: StepJob,
        outcome: Outcome,
    ) -> None:
        # One unit with the step's done mark: recorded once, and never run again after it.
        request, approver, card = of
        now = self._clock.now()
        await uow.steps.done(ref, now)
        current = await uow.deliveries.get(card.id)
        if current is not None:
            await uow.deliveries.set_state(card.id, current.state, now, outcome.detail)
        if outcome.sent in PAID and outcome.channel is not None:
            kind = f"urgent_{outcome.sent}"
            await uow.ledger.meter(outcome.channel, approver.account_id, kind, now)
        action = f"{step.kind}.sent"  # reminder.sent, escalation.sent
        target = request.ticket.ticket_id
        detail = f"{approver.account_id}: {outcome.detail}"
        await uow.ledger.audit(now, TIMER, action, target, detail, TIMER)
        if self._nudging.events and outcome.known:
            await self._event(uow, ref, (request, approver), step, outcome)

    async def _event(
        self,
        uow: UnitOfWork,
        ref: str,
        of: tuple[StoredRequest, Approver],
        step: StepJob,
        outcome: Outcome,
    ) -> None:
        request, approver = of
        event = StepEvent(
            event_id=step_events.event_id(ref),
            type="approval.escalated" if step.kind == "escalation" else "approval.reminded",
            ticket_id=request.ticket.ticket_id,
            step=step.label,
            account_id=approver.account_id,
            display_name=approver.display_name,
            channel=outcome.channel,
            sent=outcome.sent,
            asked=step.asked or step.urgent,
            detail=outcome.detail,
            at=self._clock.now(),
        )
        await step_events.enqueue(uow, ref, event)


def _because(why: list[str]) -> str:
    reasons = [w for w in why if w]
    return f" ({'; '.join(reasons)})" if reasons else ""


def reminder_text(request: StoredRequest) -> str:
    """The plain reminder: what waits, and where the card is."""
    ticket = request.ticket
    if ticket.locale == "zh-CN":
        return f"提醒：「{ticket.title}」（{ticket.ticket_id}）仍在等待您的审批，请在上方的卡片中处理。"
    return (
        f'Reminder: "{ticket.title}" ({ticket.ticket_id}) is still waiting for your decision: '
        "answer on the card sent to you earlier."
    )


def _waiting(request: StoredRequest, account_id: str | None) -> Approver | None:
    return next((a for a in still_to_vote(request) if a.account_id == account_id), None)


def _card(request: StoredRequest, approver: Approver) -> Delivery | None:
    # The card that reached them (the latest, after a fallback); a reminder points at it.
    out = [d for d in request.deliveries if d.account_id == approver.account_id and d.state in OUT]
    return max(out, key=lambda d: d.created_at) if out else None
