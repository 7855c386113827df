"""Where a multi-approver request stands, as one approver's card shows it.

The votes are counted by the rules (:func:`bot.core.policy.outcome`); this picks the stage the
card's holder belongs to and says it in the card's terms (:class:`cards.ViewProgress`). A request
with neither ``policy`` nor ``stages`` has no progress: its cards are drawn as they always were.
"""

from __future__ import annotations

from bot.core.models import StoredRequest, Vote
from bot.core.policy import Policy, Progress, StageProgress, StageState, outcome
from cards import ViewProgress, ViewVote


def view_progress(request: StoredRequest, account_id: str) -> ViewProgress | None:
    """The progress line of ``account_id``'s card of ``request`` (None: a first-click request)."""
    ticket = request.ticket
    if ticket.policy is None and ticket.stages is None:
        return None
    policy = Policy.from_request(ticket)
    progress = outcome(policy, request.votes)
    index = _holder_stage(policy, progress, account_id)
    stage = progress.stages[index]
    own = next((v for v in (*stage.approved, *stage.rejected) if v.account_id == account_id), None)
    return ViewProgress(
        stage=index + 1,
        stages=len(policy.stages),
        stage_name=stage.name,
        needed=stage.needed,
        approved=tuple(v.display_name or v.account_id for v in stage.approved),
        waiting=tuple(a.display_name for a in stage.awaited),
        rejected=_view(stage.rejected[-1]) if stage.state is StageState.REJECTED else None,
        own_vote=_view(own) if own else None,
        passed_to=_passed_to(progress, stage),
    )


def _holder_stage(policy: Policy, progress: Progress, account_id: str) -> int:
    # The open stage if the holder votes in it; else the last stage of theirs that has begun;
    # else their first (a later stage not open yet); else the first.
    theirs = [i for i, s in enumerate(policy.stages) if account_id in s.accounts]
    if progress.current in theirs:
        return progress.current
    begun = [i for i in theirs if progress.stages[i].state is not StageState.WAITING]
    return (begun or theirs or [0])[-1 if begun else 0]


def _passed_to(progress: Progress, stage: StageProgress) -> str | None:
    following = progress.stages[stage.index + 1 :]
    if stage.state is not StageState.APPROVED or not following:
        return None
    return following[0].name


def _view(vote: Vote) -> ViewVote:
    return ViewVote(
        by=vote.display_name or vote.account_id,
        approved=vote.outcome.value == "approved",
        at=vote.at,
        comment=vote.comment,
    )
