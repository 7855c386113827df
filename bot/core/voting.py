"""What a counted vote implies for the request's cards, beside what the rules say.

The rules are :mod:`bot.core.policy`; the service applies them in the click's unit. This module
keeps the little it needs around them: which answer a refused vote gets, and who must receive a
card when a stage opens (an approver who already holds a live card of the request gets that card
redrawn with buttons instead of a second one).
"""

from __future__ import annotations

from bot.core.intake import Approver
from bot.core.models import ActionStatus, DeliveryState, StoredRequest
from bot.core.policy import Policy, Progress, Refusal

ANSWERS = {
    Refusal.DECIDED: ActionStatus.ALREADY_DECIDED,
    Refusal.SELF_APPROVAL: ActionStatus.SELF_APPROVAL,
    Refusal.NOT_APPROVER: ActionStatus.NOT_APPROVER,
    Refusal.NOT_YET: ActionStatus.NOT_YET,
    Refusal.STAGE_PASSED: ActionStatus.STAGE_PASSED,
    Refusal.ALREADY_VOTED: ActionStatus.ALREADY_VOTED,
}
# A card that is, or will be, on the approver's phone.
LIVE = (DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.UPDATED)


def first_stage(request: StoredRequest) -> tuple[Approver, ...]:
    """Who receives a card at intake: the first stage's approvers (the submitter taken out
    unless allowed)."""
    return Policy.from_request(request.ticket).stages[0].approvers


def opened(
    policy: Policy, before: Progress, after: Progress, request: StoredRequest
) -> list[Approver]:
    """The approvers of a stage this vote opened who hold no live card of the request yet."""
    if after.current is None or after.current == before.current:
        return []
    holding = {d.account_id for d in request.deliveries if d.state in LIVE}
    return [a for a in policy.stages[after.current].approvers if a.account_id not in holding]
