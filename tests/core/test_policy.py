"""Multi-approver rules (bot.core.policy): every rule against a plain reference, with a clock
the test moves so the order of votes is the order of the clicks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.intake import ApprovalRequest
from bot.core.models import Outcome
from bot.core.policy import Policy, Refusal, StageState, Vote, admit, outcome
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APPROVE, REJECT = Outcome.APPROVED, Outcome.REJECTED


@dataclass
class Clock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at

    def move(self, seconds: float = 1) -> None:
        self.at += timedelta(seconds=seconds)


def people(*ids: str) -> list[dict[str, str]]:
    return [approver(i, f"Person {i}") for i in ids]


def request(**overrides: Any) -> ApprovalRequest:
    body = sample_ticket("T-1", people("a", "b", "c"))
    body.update(overrides)
    if "stages" in overrides:
        body["approvers"] = []
    return ApprovalRequest.model_validate(body)


def one_stage(
    rule: str, quorum: int | None = None, ids: tuple[str, ...] = ("a", "b", "c")
) -> Policy:
    policy: dict[str, Any] = {"rule": rule} | ({"quorum": quorum} if quorum else {})
    return Policy.from_request(request(approvers=people(*ids), policy=policy))


class Ballot:
    """Votes cast through admit() as clicks at the clock's time, the way the service will."""

    def __init__(self, policy: Policy) -> None:
        self.policy, self.clock, self.votes = policy, Clock(), list[Vote]()

    def click(self, account: str, choice: Outcome = APPROVE, comment: str | None = None) -> Any:
        self.clock.move()
        admission = admit(self.policy, self.votes, account, choice, self.clock.now(), comment)
        if admission.vote is not None:
            self.votes.append(admission.vote)
        return admission

    @property
    def progress(self) -> Any:
        return outcome(self.policy, self.votes)


# ------------------------------------------------------------------ one stage, by rule


def test_a_request_without_policy_is_decided_by_the_first_vote_either_way() -> None:
    for first in (APPROVE, REJECT):
        ballot = Ballot(Policy.from_request(request()))
        ballot.click("b", first)
        assert ballot.progress.outcome is first
        assert ballot.click("a").refusal is Refusal.DECIDED


def test_all_needs_every_approval_and_shows_who_is_awaited() -> None:
    ballot = Ballot(one_stage("all"))
    ballot.click("a")
    ballot.click("c")
    progress = ballot.progress
    assert progress.outcome is None and progress.current == 0
    assert [v.account_id for v in progress.stages[0].approved] == ["a", "c"]
    assert [a.account_id for a in progress.awaited] == ["b"]
    ballot.click("b")
    assert ballot.progress.outcome is APPROVE and ballot.progress.awaited == ()


def test_all_is_rejected_by_one_rejection_with_its_reason() -> None:
    ballot = Ballot(one_stage("all"))
    ballot.click("a")
    ballot.click("b", REJECT, "not in the freeze")
    progress = ballot.progress
    assert progress.outcome is REJECT
    assert progress.decisive is not None and progress.decisive.comment == "not in the freeze"
    assert progress.stages[0].state is StageState.REJECTED


def test_quorum_approves_at_n_and_rejects_once_n_is_out_of_reach() -> None:
    ballot = Ballot(one_stage("quorum", 2, ("a", "b", "c", "d")))
    ballot.click("a", REJECT)
    ballot.click("b", REJECT)
    assert ballot.progress.outcome is None  # c and d can still make 2
    ballot.click("c", REJECT)
    assert ballot.progress.outcome is REJECT
    ballot = Ballot(one_stage("quorum", 2, ("a", "b", "c", "d")))
    ballot.click("a", REJECT)
    ballot.click("b")
    ballot.click("d")
    assert ballot.progress.outcome is APPROVE


def test_a_second_vote_is_refused_as_already_voted_with_its_time() -> None:
    ballot = Ballot(one_stage("all"))
    first = ballot.click("a")
    again = ballot.click("a", REJECT)
    assert again.vote is None and again.refusal is Refusal.ALREADY_VOTED
    assert again.earlier == first.vote and again.earlier.at == T0 + timedelta(seconds=1)
    assert ballot.progress.outcome is None


def test_strangers_are_refused() -> None:
    assert Ballot(one_stage("all")).click("zz").refusal is Refusal.NOT_APPROVER


# ------------------------------------------------------------------ self-approval


def test_the_submitter_is_no_approver_unless_allowed() -> None:
    own = request().submitter.account_id
    body = {"approvers": people("a", own), "policy": {"rule": "all"}}
    policy = Policy.from_request(request(**body))
    assert [a.account_id for a in policy.stages[0].approvers] == ["a"]
    ballot = Ballot(policy)
    assert ballot.click(own).refusal is Refusal.SELF_APPROVAL
    ballot.click("a")
    assert ballot.progress.outcome is APPROVE  # "all" of those who may vote
    allowed = {
        "approvers": people("a", own),
        "policy": {"rule": "all", "allow_self_approval": True},
    }
    ballot = Ballot(Policy.from_request(request(**allowed)))
    assert ballot.click(own).refusal is None


def test_a_request_without_policy_keeps_the_submitter_as_approver() -> None:
    own = request().submitter.account_id
    ballot = Ballot(Policy.from_request(request(approvers=people("a", own))))
    assert ballot.click(own).refusal is None


def test_a_stored_vote_by_the_submitter_does_not_count() -> None:
    own = request().submitter.account_id
    policy = Policy.from_request(request(approvers=people("a", own), policy={"rule": "any"}))
    assert outcome(policy, [Vote(0, own, APPROVE, T0)]).outcome is None


# ------------------------------------------------------------------ stages


def staged() -> Policy:
    return Policy.from_request(
        request(
            stages=[
                {"name": "DBA review", "approvers": people("d1", "d2"), "rule": "all"},
                {
                    "name": "Owner",
                    "approvers": people("o1", "o2", "d1"),
                    "rule": "quorum",
                    "quorum": 1,
                },
            ]
        )
    )


def test_stages_run_in_order() -> None:
    ballot = Ballot(staged())
    assert ballot.click("o1").refusal is Refusal.NOT_YET
    ballot.click("d1")
    assert [s.state for s in ballot.progress.stages] == [StageState.PENDING, StageState.WAITING]
    ballot.click("d2")
    progress = ballot.progress
    assert progress.current == 1 and progress.stages[0].state is StageState.APPROVED
    assert {a.account_id for a in progress.awaited} == {"o1", "o2", "d1"}
    ballot.click("o2")
    assert ballot.progress.outcome is APPROVE and ballot.progress.current is None


def test_an_approver_of_two_stages_votes_in_each() -> None:
    ballot = Ballot(staged())
    ballot.click("d1")
    assert ballot.click("d1").refusal is Refusal.ALREADY_VOTED  # stage 1 still open
    ballot.click("d2")
    assert ballot.click("d1").vote is not None  # stage 2 opened: a new vote
    assert ballot.progress.outcome is APPROVE


def test_a_rejected_stage_rejects_the_request_and_later_stages_never_open() -> None:
    ballot = Ballot(staged())
    ballot.click("d2", REJECT, "no rollback plan")
    progress = ballot.progress
    assert progress.outcome is REJECT and progress.current is None
    assert progress.stages[1].state is StageState.WAITING and progress.awaited == ()
    assert ballot.click("o1").refusal is Refusal.DECIDED


def test_an_earlier_stage_approver_who_never_voted_is_told_the_stage_passed() -> None:
    policy = Policy.from_request(
        request(
            stages=[
                {"name": "DBA", "approvers": people("d1", "d2")},
                {"name": "Owner", "approvers": people("o1")},
            ]
        )
    )
    ballot = Ballot(policy)
    ballot.click("d1")
    assert ballot.click("d2").refusal is Refusal.STAGE_PASSED
    assert ballot.click("d1").refusal is Refusal.ALREADY_VOTED


def test_votes_count_in_time_order_whatever_order_they_are_stored_in() -> None:
    policy = one_stage("any")
    late, early = Vote(0, "a", APPROVE, T0 + timedelta(1)), Vote(0, "b", REJECT, T0)
    assert outcome(policy, [late, early]).outcome is REJECT


# ------------------------------------------------------------------ properties


def reference(rule: str, quorum: int, n: int, choices: list[Outcome]) -> Outcome | None:
    """The rule as the README states it, one click at a time."""
    yes = no = 0
    for choice in choices:
        yes, no = yes + (choice is APPROVE), no + (choice is REJECT)
        if rule == "any":
            return choice
        need = n if rule == "all" else quorum
        if yes >= need:
            return APPROVE
        if n - no < need:
            return REJECT
    return None


@st.composite
def elections(draw: st.DrawFn) -> tuple[str, int, int, list[Outcome]]:
    n = draw(st.integers(1, 7))
    rule = draw(st.sampled_from(["any", "all", "quorum"]))
    quorum = draw(st.integers(1, n))
    choices = draw(st.lists(st.sampled_from([APPROVE, REJECT]), max_size=n))
    return rule, quorum, n, choices


@given(elections())
def test_every_rule_matches_the_reference(election: tuple[str, int, int, list[Outcome]]) -> None:
    rule, quorum, n, choices = election
    ids = tuple(f"p{i}" for i in range(n))
    ballot = Ballot(one_stage(rule, quorum if rule == "quorum" else None, ids))
    expected: Outcome | None = None
    for account, choice in zip(ids, choices, strict=False):
        admission = ballot.click(account, choice)
        assert (admission.vote is None) == (expected is not None)
        expected = reference(rule, quorum, n, choices[: ids.index(account) + 1])
        assert ballot.progress.outcome is expected
    done = ballot.progress
    voted = {v.account_id for s in done.stages for v in (*s.approved, *s.rejected)}
    awaited = {a.account_id for a in done.awaited}
    assert awaited == (set() if expected else set(ids) - voted)


@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from("abcd"), st.booleans()), max_size=12))
def test_outcome_ignores_what_admit_would_refuse(clicks: list[tuple[int, str, bool]]) -> None:
    policy = Policy.from_request(
        request(
            stages=[
                {"name": "one", "approvers": people("a", "b"), "rule": "all"},
                {"name": "two", "approvers": people("b", "c", "d"), "rule": "quorum", "quorum": 2},
            ]
        )
    )
    clock, stored, admitted = Clock(), list[Vote](), list[Vote]()
    for stage, account, yes in clicks:
        clock.move()
        choice = APPROVE if yes else REJECT
        stored.append(Vote(stage, account, choice, clock.now()))  # whatever a broken caller stored
        admission = admit(policy, admitted, account, choice, clock.now())
        if admission.vote is not None and admission.vote.stage == stage:
            admitted.append(admission.vote)
    assert outcome(policy, stored) == outcome(policy, admitted)


@pytest.mark.parametrize("rule", ["any", "all", "quorum"])
def test_one_approver_stage_is_decided_by_their_vote(rule: str) -> None:
    for choice in (APPROVE, REJECT):
        ballot = Ballot(one_stage(rule, 1 if rule == "quorum" else None, ("a",)))
        ballot.click("a", choice)
        assert ballot.progress.outcome is choice
