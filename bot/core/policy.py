"""Multi-approver rules: who may vote on a request, and what the votes add up to.

Pure functions over immutable values; the service loads the votes, asks :func:`admit`
whether a click counts, stores the vote it returns, and reads :func:`outcome`.

A request is a sequence of stages run in order. Each stage has its approvers and a rule:

- ``any``: the first vote decides the stage (a request without a policy works like this);
- ``all``: every approver must approve; one rejection rejects;
- ``quorum``: ``quorum`` approvals approve; the stage is rejected as soon as that many
  can no longer be reached.

A rejected stage rejects the request; an approved stage opens the next; the last approved
stage approves the request. Each approver votes once per stage. The submitter's account
is not an approver unless the request allows self-approval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.intake import ApprovalRequest, Approver, Rule
from bot.core.models import Outcome, Vote


@dataclass(frozen=True)
class StagePolicy:
    """One stage: its name, the accounts that may vote in it, and how many approvals it needs."""

    name: str
    rule: Rule
    approvers: tuple[Approver, ...]  # the submitter already taken out unless allowed
    needed: int  # approvals that approve the stage

    @property
    def accounts(self) -> frozenset[str]:
        """The account ids that may vote in this stage."""
        return frozenset(a.account_id for a in self.approvers)


@dataclass(frozen=True)
class Policy:
    """The stages of one request, in order, and whose vote is refused as self-approval."""

    stages: tuple[StagePolicy, ...]
    submitter: str
    allow_self_approval: bool

    @classmethod
    def from_request(cls, request: ApprovalRequest) -> Policy:
        """The policy an (already validated) approval request asks for."""
        allowed = request.self_approval
        own = request.submitter.account_id
        if request.stages is None:
            rule = request.policy.rule if request.policy else Rule.ANY
            quorum = request.policy.quorum if request.policy else None
            specs = [("", request.approvers, rule, quorum)]
        else:
            specs = [(s.name, s.approvers, s.rule, s.quorum) for s in request.stages]
        stages = tuple(
            _stage(name, [a for a in people if allowed or a.account_id != own], rule, quorum)
            for name, people, rule, quorum in specs
        )
        return cls(stages=stages, submitter=own, allow_self_approval=allowed)


def _stage(name: str, people: list[Approver], rule: Rule, quorum: int | None) -> StagePolicy:
    needed = {Rule.ANY: 1, Rule.ALL: len(people)}.get(rule, quorum or 1)
    return StagePolicy(name=name, rule=rule, approvers=tuple(people), needed=needed)


class StageState(StrEnum):
    """Where a stage stands."""

    WAITING = "waiting"  # an earlier stage is still open (or rejected the request)
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class StageProgress:
    """One stage's votes so far."""

    index: int
    name: str
    rule: Rule
    needed: int
    state: StageState
    approved: tuple[Vote, ...]  # in the order they came
    rejected: tuple[Vote, ...]
    awaited: tuple[Approver, ...]  # approvers of an open stage who have not voted


@dataclass(frozen=True)
class Progress:
    """Every stage's standing, the open stage, and the request's outcome once there is one."""

    stages: tuple[StageProgress, ...]
    current: int | None  # index of the open stage; None once the request is decided
    outcome: Outcome | None

    @property
    def awaited(self) -> tuple[Approver, ...]:
        """Who the request is waiting for now."""
        return () if self.current is None else self.stages[self.current].awaited

    @property
    def decisive(self) -> Vote | None:
        """The vote that decided the request, once it is decided."""
        last = next((s for s in reversed(self.stages) if s.state is not StageState.WAITING), None)
        if self.outcome is None or last is None:
            return None
        votes = last.rejected if self.outcome is Outcome.REJECTED else last.approved
        return votes[-1] if votes else None


@dataclass
class _Tally:
    stage: StagePolicy
    approved: list[Vote] = field(default_factory=list)
    rejected: list[Vote] = field(default_factory=list)

    def add(self, vote: Vote) -> None:
        (self.approved if vote.outcome is Outcome.APPROVED else self.rejected).append(vote)

    def state(self) -> StageState:
        stage = self.stage
        if stage.rule is Rule.ANY and (self.approved or self.rejected):
            return StageState.APPROVED if self.approved else StageState.REJECTED
        if len(self.approved) >= stage.needed:
            return StageState.APPROVED
        if len(stage.approvers) - len(self.rejected) < stage.needed:
            return StageState.REJECTED
        return StageState.PENDING


def outcome(policy: Policy, votes: Iterable[Vote]) -> Progress:
    """What ``votes`` add up to under ``policy``.

    Votes are taken in time order; a vote that is not admissible (see :func:`admit`) when
    its turn comes, such as one after its stage was decided, is ignored.
    """
    return _progress(_fold(policy, votes))


def _fold(policy: Policy, votes: Iterable[Vote]) -> list[_Tally]:
    tallies = [_Tally(stage) for stage in policy.stages]
    for vote in sorted(votes, key=lambda v: v.at):
        if _refusal(policy, tallies, vote.stage, vote.account_id) is None:
            tallies[vote.stage].add(vote)
    return tallies


def _progress(tallies: list[_Tally]) -> Progress:
    stages: list[StageProgress] = []
    current: int | None = None
    result: Outcome | None = Outcome.APPROVED
    for index, tally in enumerate(tallies):
        state = tally.state() if result is Outcome.APPROVED else StageState.WAITING
        if state is StageState.PENDING:
            current, result = index, None
        elif state is StageState.REJECTED:
            result = Outcome.REJECTED
        stages.append(_stage_progress(index, tally, state))
    return Progress(stages=tuple(stages), current=current, outcome=result)


def _stage_progress(index: int, tally: _Tally, state: StageState) -> StageProgress:
    voted = {v.account_id for v in (*tally.approved, *tally.rejected)}
    open_ = state is StageState.PENDING
    return StageProgress(
        index=index,
        name=tally.stage.name,
        rule=tally.stage.rule,
        needed=tally.stage.needed,
        state=state,
        approved=tuple(tally.approved),
        rejected=tuple(tally.rejected),
        awaited=tuple(a for a in tally.stage.approvers if open_ and a.account_id not in voted),
    )


class Refusal(StrEnum):
    """Why a vote does not count."""

    DECIDED = "already_decided"  # the request has its outcome
    SELF_APPROVAL = "self_approval"  # the submitter's own account, not allowed here
    NOT_APPROVER = "not_approver"  # in no stage of this request
    NOT_YET = "not_yet"  # an approver of a later stage: their stage is not open
    STAGE_PASSED = "stage_passed"  # their stage was decided without their vote
    ALREADY_VOTED = "already_voted"  # this account voted (``Admission.earlier`` says when)


@dataclass(frozen=True)
class Admission:
    """The answer to a click: the vote to store, or why not (and the earlier vote, if any)."""

    vote: Vote | None
    refusal: Refusal | None = None
    earlier: Vote | None = None


def admit(
    policy: Policy,
    votes: Sequence[Vote],
    account_id: str,
    outcome_: Outcome,
    at: datetime,
    comment: str | None = None,
) -> Admission:
    """Whether ``account_id`` may vote now; if so, the vote (in the open stage) to store."""
    tallies = _fold(policy, votes)
    current = _open_stage(tallies)
    refusal = _refusal(policy, tallies, current, account_id)
    if refusal in (Refusal.ALREADY_VOTED, Refusal.STAGE_PASSED):
        earlier = next((v for t in tallies if (v := _earlier(t, account_id))), None)
        return Admission(None, Refusal.ALREADY_VOTED if earlier else refusal, earlier)
    if refusal is not None or current is None:
        return Admission(None, refusal or Refusal.DECIDED)
    return Admission(Vote(current, account_id, outcome_, at, comment))


def _open_stage(tallies: list[_Tally]) -> int | None:
    for index, tally in enumerate(tallies):
        state = tally.state()
        if state is StageState.REJECTED:
            return None
        if state is StageState.PENDING:
            return index
    return None


def _refusal(
    policy: Policy, tallies: list[_Tally], stage: int | None, account_id: str
) -> Refusal | None:
    current = _open_stage(tallies)
    if current is None:
        return Refusal.DECIDED
    if account_id == policy.submitter and not policy.allow_self_approval:
        return Refusal.SELF_APPROVAL
    if not any(account_id in s.accounts for s in policy.stages):
        return Refusal.NOT_APPROVER
    if account_id in policy.stages[current].accounts and stage == current:
        return Refusal.ALREADY_VOTED if _earlier(tallies[current], account_id) else None
    later = policy.stages[current + 1 :]
    return Refusal.NOT_YET if any(account_id in s.accounts for s in later) else Refusal.STAGE_PASSED


def _earlier(tally: _Tally, account_id: str) -> Vote | None:
    return next((v for v in (*tally.approved, *tally.rejected) if v.account_id == account_id), None)
