"""The schedule of a request: which reminders, escalation steps and outcome fall when.

A pure function of the request, its creation time, the deployment's policy and who has not
voted yet; the caller recomputes it after each vote and runs the steps that are due and not yet
done (``Step.key`` names a step across recomputations, for the durable job that runs it).

Rules: reminder n at ``after + (n - 1) * every`` (up to ``max``, else as many as fit, at most
10); each escalation step at its ``after``; the outcome at ``expires_at``. Reminders and urgency
wait for the end of the approver's quiet hours; added approvers (cards) and the outcome never
wait. Nothing is sent at or after the outcome: a step pushed there is dropped, and listed so.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.core.intake import (
    MAX_STEPS,
    ApprovalRequest,
    Approver,
    EscalationStep,
    Reminders,
    UrgencyKind,
)
from bot.core.timing.policy import TimingPolicy

StepKind = Literal["reminder", "escalation", "expiry"]


@dataclass(frozen=True)
class Pending:
    """An approver still to vote: their zone, the urgency their channel offers, since when."""

    account_id: str
    zone: ZoneInfo
    urgency: frozenset[UrgencyKind] = frozenset()  # e.g. Lark: app, sms, phone; email: none
    since: datetime | None = None  # their card went out then (added approvers): nothing before


@dataclass(frozen=True)
class Step:
    """One thing to do at ``due``: for one approver, or (``account_id`` None) the request."""

    kind: StepKind
    number: int  # reminder n (from 1), escalation step (from 0), 0 for the outcome
    action: str  # "remind", "notify:email", "add_approvers", or the outcome
    at: datetime  # where the rule puts it
    due: datetime  # when it goes: ``at``, or the end of the approver's quiet hours
    account_id: str | None = None
    urgent: UrgencyKind | None = None  # the urgency it uses
    asked: UrgencyKind | None = None  # the urgency the request asked for
    note: str = ""  # why it differs from the rule: fallback, quiet hours, dropped
    approvers: tuple[Approver, ...] = ()  # for "add_approvers"

    @property
    def key(self) -> str:
        """Names this step across recomputations of the plan."""
        return f"{self.kind}:{self.number}:{self.account_id or '*'}"


@dataclass(frozen=True)
class Plan:
    """The steps in the order they go (the outcome last), and those dropped."""

    steps: tuple[Step, ...]
    dropped: tuple[Step, ...] = field(default=())

    def due(self, now: datetime, done: Collection[str] = ()) -> tuple[Step, ...]:
        """The steps due at ``now`` that are not ``done`` (by key), in order."""
        return tuple(s for s in self.steps if s.due <= now and s.key not in done)


def plan(
    ticket: ApprovalRequest,
    created_at: datetime,
    pending: Sequence[Pending],
    policy: TimingPolicy,
) -> Plan:
    """The request's schedule (see the module docstring for the rules)."""
    steps = [
        *_reminders(ticket, created_at, pending, policy),
        *_ladder(ticket, created_at, pending, policy),
    ]
    end = ticket.expires_at
    kept = sorted((s for s in steps if s.due < end), key=lambda s: (s.due, s.key))
    dropped = tuple(_dropped(s) for s in steps if s.due >= end)
    outcome = policy.outcome_for(ticket)
    final = Step("expiry", 0, outcome, at=end, due=end)
    return Plan((*kept, final), dropped)


def _dropped(step: Step) -> Step:
    return _with_note(step, f"not sent: due at or after expires_at ({step.due.isoformat()})")


def _reminders(
    ticket: ApprovalRequest, created: datetime, pending: Sequence[Pending], policy: TimingPolicy
) -> Iterator[Step]:
    rule = policy.reminders_for(ticket)
    if rule is None:
        return
    for number, at in enumerate(_reminder_times(rule, created, ticket.expires_at), start=1):
        for who in pending:
            if who.since is None or at >= who.since:
                yield _nudge("reminder", number, "remind", at, who, rule.urgent, policy)


def _reminder_times(rule: Reminders, created: datetime, end: datetime) -> Iterator[datetime]:
    every = rule.every or timedelta(0)
    count = rule.max or (MAX_STEPS if rule.every else 1)
    for n in range(count):
        at = created + rule.after + n * every
        if at >= end:
            return
        yield at


def _ladder(
    ticket: ApprovalRequest, created: datetime, pending: Sequence[Pending], policy: TimingPolicy
) -> Iterator[Step]:
    for number, rung in enumerate(ticket.escalation):
        at = created + rung.after
        if rung.add_approvers is not None:
            # Cards never wait for quiet hours.
            added = tuple(rung.add_approvers)
            yield Step("escalation", number, "add_approvers", at, at, approvers=added)
            continue
        for who in pending:
            if who.since is None or at >= who.since:
                yield _escalation_nudge(number, rung, at, who, policy)


def _escalation_nudge(
    number: int, rung: EscalationStep, at: datetime, who: Pending, policy: TimingPolicy
) -> Step:
    if rung.notify is not None:
        return _nudge("escalation", number, f"notify:{rung.notify}", at, who, None, policy)
    return _nudge("escalation", number, "remind", at, who, rung.urgent, policy)


def _nudge(
    kind: StepKind,
    number: int,
    action: str,
    at: datetime,
    who: Pending,
    asked: UrgencyKind | None,
    policy: TimingPolicy,
) -> Step:
    urgent = asked if asked in who.urgency else None
    notes = []
    if asked is not None and urgent is None:
        notes.append(f"{asked} urgency is not offered on this approver's channel: a plain reminder")
    due = policy.quiet.release(at, who.zone) if policy.quiet else at
    if due != at:
        notes.append(f"held by quiet hours {policy.quiet} ({who.zone.key}) until {due.isoformat()}")
    step = Step(kind, number, action, at, due, who.account_id, urgent, asked)
    return _with_note(step, "; ".join(notes))


def _with_note(step: Step, note: str) -> Step:
    if not note:
        return step
    return replace(step, note=f"{step.note}; {note}" if step.note else note)
