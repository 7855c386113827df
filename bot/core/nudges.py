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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core import step_events
from bot.core.models import (
    Approver,
    Delivery,
    DeliveryState,
    Job,
    StoredRequest,
    UrgencyKind,
)
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
    """What one step did: its history line, what went out, and on which channel."""

    detail: str
    sent: StepSent
    channel: str | None


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
        if step.action == f"notify:{EMAIL}":
            outcome = await self._email(request, email, step, job.created_at)
        else:
            outcome = await self._remind(request, card, step, job.created_at)
        await self._record(job.ref, (request, approver, card), step, outcome)
        log.info("timing step run", extra=kv(step=step.key, detail=outcome.detail))

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
        ref: str,
        of: tuple[StoredRequest, Approver, Delivery],
        step: StepJob,
        outcome: Outcome,
    ) -> None:
        request, approver, card = of
        now = self._clock.now()
        async with self._store.unit() as uow:
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
            if self._nudging.events:
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
