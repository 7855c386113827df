"""Remind now: a person asks that those a request still awaits be reminded at once.

Each approver the open stage still awaits, whose card went out, gets one ``timing_step`` job
due now (ref ``"<request id>/now-<timestamp>:<account>"``, never a scheduled step's key), run
by :class:`bot.core.nudges.Nudges` like a scheduled reminder: urgency on the card already sent
where its channel offers it, else a plain reminder, and a line in the card's history.

Rate limit, per approver: one reminded within ``TimingPolicy.remind_now_every`` (by an earlier
remind now, or by a scheduled reminder that ran) is skipped, with the moment they can be
reminded again; when every approver awaited was skipped so, the call is refused
(:class:`RemindedTooRecently`, with the earliest of those moments).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from bot.core.intake import Approver, UrgencyKind
from bot.core.models import DeliveryState, Entity, RequestStatus, StoredRequest
from bot.core.ports import RequestJob, UnitOfWork
from bot.core.timing.policy import TimingPolicy
from bot.core.timing.steps import REMIND_NOW, TIMING_STEP, Offered, StepJob, still_to_vote
from bot.errors import Conflict, NotFound, TooSoon

NOW_KEY = "now-"
OUT = (DeliveryState.SENT, DeliveryState.UPDATED)
DEFAULT_URGENCY: UrgencyKind = "app"  # free on every platform that has it; sms/phone cost money


class RequestClosed(Conflict):
    """The request is closed: there is nobody left to remind."""

    code = "request_closed"


class RemindedTooRecently(TooSoon):
    """Every approver awaited was reminded too recently; try again later."""

    code = "reminded_too_recently"


class Reminded(Entity):
    """An approver a reminder was queued for, and where it goes."""

    account_id: str
    display_name: str
    channel: str
    urgent: UrgencyKind | None = None


class Skipped(Entity):
    """An approver awaited but not reminded: why, and when they can be reminded again."""

    account_id: str
    display_name: str
    reason: str
    last_reminded_at: datetime | None = None
    again_at: datetime | None = None


class RemindNowResult(Entity):
    """What one remind now did."""

    ticket_id: str
    reminded: tuple[Reminded, ...]
    skipped: tuple[Skipped, ...]


async def remind_now(
    uow: UnitOfWork,
    ticket_id: str,
    now: datetime,
    policy: TimingPolicy,
    offered: Offered,
    *,
    by: str,
    source: str,
) -> RemindNowResult:
    """Queue, in ``uow``, a reminder due now for each approver awaited and not reminded lately.

    NotFound for an unknown ticket, RequestClosed when it is not pending, RemindedTooRecently
    when everyone awaited was reminded within the window (nothing is written then)."""
    request = await uow.requests.find(ticket_id)
    if request is None:
        raise NotFound(f"no request for ticket {ticket_id}")
    await uow.requests.lock(request.id, exclusive=True)  # two calls at once: one reminds
    request = request.with_votes(await uow.votes.of_request(request.id))
    if request.status is not RequestStatus.PENDING:
        raise RequestClosed(f"ticket {ticket_id} is already {request.status}")
    last = _last_reminded(await uow.outbox.of_request(request.id))
    reminded: list[Reminded] = []
    skipped: list[Skipped] = []
    for approver in still_to_vote(request):
        outcome = _one(request, approver, last.get(approver.account_id), now, policy, offered)
        if isinstance(outcome, Reminded):
            reminded.append(outcome)
        else:
            skipped.append(outcome)
    _refuse_if_too_recent(ticket_id, reminded, skipped, now)
    for position, who in enumerate(reminded):
        job = _job(request.id, who, now, position)
        await uow.outbox.enqueue(TIMING_STEP, f"{request.id}/{job.key}", now, job.model_dump_json())
    detail = "reminded " + (", ".join(r.account_id for r in reminded) or "nobody")
    if skipped:
        detail += "; skipped " + ", ".join(f"{s.account_id} ({s.reason})" for s in skipped)
    await uow.ledger.audit(now, by, "reminder.sent_now", ticket_id, detail, source)
    return RemindNowResult(ticket_id=ticket_id, reminded=tuple(reminded), skipped=tuple(skipped))


def _one(
    request: StoredRequest,
    approver: Approver,
    last: datetime | None,
    now: datetime,
    policy: TimingPolicy,
    offered: Offered,
) -> Reminded | Skipped:
    name = approver.display_name
    if last is not None and last + policy.remind_now_every > now:
        again = last + policy.remind_now_every
        why = "reminded too recently"
        return Skipped(
            account_id=approver.account_id,
            display_name=name,
            reason=why,
            last_reminded_at=last,
            again_at=again,
        )
    card = _card(request, approver.account_id)
    if card is None:
        why = "no card has reached them yet"
        return Skipped(account_id=approver.account_id, display_name=name, reason=why)
    asked = _asked(request, policy)
    urgent = asked if asked in offered(card) else None
    return Reminded(account_id=approver.account_id, display_name=name, channel=card, urgent=urgent)


def _asked(request: StoredRequest, policy: TimingPolicy) -> UrgencyKind:
    # The urgency the request's reminders ask for; app when they name none (or are off: a
    # person asking now overrides the schedule, not the kind of nudge).
    rule = policy.reminders_for(request.ticket)
    return rule.urgent if rule is not None and rule.urgent is not None else DEFAULT_URGENCY


def _card(request: StoredRequest, account_id: str) -> str | None:
    # The channel of the card that reached them (the latest, after a fallback), as Nudges picks.
    out = [d for d in request.deliveries if d.account_id == account_id and d.state in OUT]
    return max(out, key=lambda d: d.created_at).channel if out else None


def _last_reminded(jobs: Sequence[RequestJob]) -> dict[str, datetime]:
    # An earlier remind now counts from when it was queued (even before it ran); a scheduled
    # reminder from when it ran. Cancelled steps never went out.
    last: dict[str, datetime] = {}
    for job in jobs:
        if job.kind != TIMING_STEP or job.state == "cancelled":
            continue
        step = StepJob.model_validate(job.payload)
        if step.account_id is None or step.action == "add_approvers":
            continue
        if step.action == REMIND_NOW:
            at: datetime | None = job.due
        else:
            at = job.done_at if job.state == "done" else None
        if at is not None and (step.account_id not in last or at > last[step.account_id]):
            last[step.account_id] = at
    return last


def _refuse_if_too_recent(
    ticket_id: str, reminded: Sequence[Reminded], skipped: Sequence[Skipped], now: datetime
) -> None:
    waits = {s.account_id: s.again_at for s in skipped if s.again_at is not None}
    if reminded or not waits:
        return
    again = min(waits.values())
    raise RemindedTooRecently(
        f"everyone ticket {ticket_id} awaits was reminded too recently; "
        f"next possible at {again.isoformat()}",
        math.ceil((again - now).total_seconds()),
        {who: f"reminded too recently: again from {at.isoformat()}" for who, at in waits.items()},
    )


def _job(request_id: str, who: Reminded, now: datetime, position: int) -> StepJob:
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return StepJob(
        request_id=request_id,
        key=f"{NOW_KEY}{stamp}:{position}:{who.account_id}",
        kind="reminder",
        number=0,
        action=REMIND_NOW,
        account_id=who.account_id,
        urgent=who.urgent,
        asked=who.urgent,
        note="" if who.urgent else "no urgency on this approver's channel",  # as the plan says
    )
