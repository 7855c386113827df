"""Runs one reminder or escalation step when its job comes due (``bot.core.timing.steps``).

A reminder goes to an approver still to vote, on the channel that brought their card, and
points at that card; it never sends a second live card. Where the step asks for urgency and the
channel offers it, the card itself is made urgent (Lark ``urgent_app`` on the message, a
DingTalk DING); where it does not, or the platform refuses, a plain message (``tell``) goes
instead. An email escalation goes to the approver's email route, when routing allows email for
them. Each outcome is a line in the card's history, so the request's trace says what went out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.core.models import (
    Approver,
    Delivery,
    DeliveryState,
    Job,
    StoredRequest,
)
from bot.core.ports import Channel, Clock, Store
from bot.core.route_planner import EMAIL, Router
from bot.core.timing.steps import StepJob, still_to_vote
from bot.errors import ChannelError
from bot.logs import kv

log = logging.getLogger("bot.nudges")
Pick = Callable[[str, datetime], Channel]
"""The running channel by name, for a job queued at the given time (ChannelError if held)."""
OUT = (DeliveryState.SENT, DeliveryState.UPDATED)


class Nudges:
    """Sends the reminder, urgency or email one due step asks for."""

    def __init__(self, store: Store, clock: Clock, router: Router, pick: Pick) -> None:
        self._store = store
        self._clock = clock
        self._router = router
        self._pick = pick

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
            detail = await self._email(request, email, step, job.created_at)
        else:
            detail = await self._remind(request, card, step, job.created_at)
        await self._record(card.id, detail)
        log.info("timing step run", extra=kv(step=step.key, detail=detail))

    async def _remind(
        self, request: StoredRequest, card: Delivery, step: StepJob, queued: datetime
    ) -> str:
        channel = self._pick(card.channel, queued)
        assert card.address is not None  # a card that went out had one
        what = step.label
        why = step.note
        if step.urgent is not None and card.external_ref:
            try:
                await channel.urge(
                    card.address, card.external_ref, step.urgent, reminder_text(request)
                )
                return f"{what}: {step.urgent} urgency on the original card ({channel.name})"
            except ChannelError as error:
                if error.retryable:
                    raise
                why = f"{step.urgent} urgency refused by {channel.name}: {error.message}"
        await channel.tell(card.address, reminder_text(request))
        return f"{what}: a plain reminder on {channel.name}" + (f" ({why})" if why else "")

    async def _email(
        self, request: StoredRequest, address: str | None, step: StepJob, queued: datetime
    ) -> str:
        what = step.label
        if address is None:
            return f"{what}: no email sent (routing allows no email for this approver)"
        channel = self._pick(EMAIL, queued)
        subject = f"Waiting for your decision: {request.ticket.title}"[:200]
        await channel.notify(address, subject, reminder_text(request))
        return f"{what}: an email reminder to {address}"

    async def _record(self, delivery_id: str, detail: str) -> None:
        async with self._store.unit() as uow:
            current = await uow.deliveries.get(delivery_id)
            if current is not None:
                await uow.deliveries.set_state(
                    delivery_id, current.state, self._clock.now(), detail
                )


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
