"""The submitter hears the outcome when the request asks for it (``notify_submitter``).

The notice is queued in the unit of work that closes the request, as a ``tell_identity`` outbox
job with ref :func:`bot.core.ports.notice_ref`: the close and its notice commit together, so it
goes exactly once, and the job's row is what the request's trace shows of it. It is routed like
a card, over the submitter's own bindings and the routing rules: the first usable chat channel,
else email where the account type allows it (main and role accounts; a submitter given without
a type is routed as RAM, chat only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.intake import AccountType, Approver
from bot.core.models import Decision, Outcome, StoredRequest, Vote
from bot.core.ports import IdentityNotice, UnitOfWork, notice_ref
from bot.core.route_planner import Router

TELL_IDENTITY = "tell_identity"  # a plain message to one identity (payload: IdentityNotice)
GATEWAY = "gateway"


async def queue(
    uow: UnitOfWork,
    router: Router,
    request: StoredRequest,
    decision: Decision | None,
    at: datetime,
    votes: Sequence[Vote] = (),
) -> None:
    """Queue the outcome notice to the submitter of ``request`` (with its closing status), if
    it asked for one; a submitter no channel reaches is audited instead."""
    ticket = request.ticket
    if not ticket.notify_submitter:
        return
    plan = await router.plan(uow.identities, _routed(request))
    if not plan.choices:
        why = plan.unreachable_reason or "no channel"
        who = ticket.submitter.account_id
        await uow.ledger.audit(at, who, "submitter.unreachable", ticket.ticket_id, why, GATEWAY)
        return
    choice = plan.choices[0]
    text = outcome_text(request, decision, votes)
    notice = IdentityNotice(channel=choice.channel, address=choice.address, text=text)
    await uow.outbox.enqueue(TELL_IDENTITY, notice_ref(request.id), at, notice.model_dump_json())


def _routed(request: StoredRequest) -> Approver:
    # Routing takes an approver: the submitter, with the most careful type when none was given.
    submitter = request.ticket.submitter
    return Approver(
        account_id=submitter.account_id,
        display_name=submitter.display_name,
        account_type=submitter.account_type or AccountType.RAM,
        region=submitter.region,
    )


def outcome_text(
    request: StoredRequest,
    decision: Decision | None,
    votes: Sequence[Vote] = (),
) -> str:
    """The notice: the outcome and the ticket, who decided, a rejection's reason, the console
    link (the first line doubles as an email's subject)."""
    ticket = request.ticket
    zh = ticket.locale == "zh-CN"
    words = _ZH if zh else _EN
    lines = [f"{words[request.status.value]}{ticket.title} ({ticket.ticket_id})"]
    if decision is not None:
        lines.append(words["by"] + _deciders(decision, votes, zh))
        if decision.outcome is Outcome.REJECTED and decision.comment:
            lines.append(words["reason"] + decision.comment)
    lines.append(words["console"] + str(ticket.console_url))
    return "\n".join(lines)


def _deciders(decision: Decision, votes: Sequence[Vote], zh: bool) -> str:
    # An approval by several votes names everyone who approved; anything else, the decider.
    if decision.outcome is Outcome.APPROVED and len(votes) > 1:
        names = [v.display_name or v.account_id for v in votes if v.outcome is Outcome.APPROVED]
        return ("、" if zh else ", ").join(names)
    if decision.channel == "console":
        return decision.display_name + ("（控制台）" if zh else " (in the console)")
    return decision.display_name


_EN = {
    "approved": "Approved: ",
    "rejected": "Rejected: ",
    "expired": "Expired, nobody decided: ",
    "withdrawn": "Withdrawn: ",
    "pending": "Pending: ",
    "by": "Decided by ",
    "reason": "Reason: ",
    "console": "Console: ",
}
_ZH = {
    "approved": "已批准：",
    "rejected": "已驳回：",
    "expired": "已过期，无人审批：",
    "withdrawn": "已撤回：",
    "pending": "待审批：",
    "by": "审批人：",
    "reason": "驳回理由：",
    "console": "控制台：",
}
