"""Delegation while away: who acts for an approver at a given moment.

An approver names a delegate for a window of time. While it is active the approver's new cards go
to the delegate, and the delegate's vote is recorded as "B for A". A delegate who is away too
hands on to their own delegate, followed for at most ``MAX_DEPTH`` hops (A -> B -> C -> D: D acts).
Refused when set: delegating to oneself, a window that overlaps one of the approver's own, and
any delegation that would close a cycle at some moment of its window. A delegate who is the
request's submitter is never followed: nobody approves their own request, so the chain stops
before them (and the resolution says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import InvalidInput

MAX_DEPTH = 3


@dataclass(frozen=True)
class Delegation:
    """``account_id`` is away from ``starts_at`` until (not including) ``ends_at``."""

    account_id: str
    delegate_id: str
    starts_at: datetime
    ends_at: datetime
    set_by: str = field(default="", compare=False)  # who set it (the approver, or an admin)

    def active(self, at: datetime) -> bool:
        """Whether the window holds ``at``."""
        return self.starts_at <= at < self.ends_at

    def overlaps(self, other: Delegation) -> bool:
        """Whether the two windows share a moment."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Resolution:
    """Who acts for ``approver`` and through whom (``chain`` starts with the approver)."""

    approver: str
    chain: tuple[str, ...]
    note: str = ""  # why the chain stopped early (depth, the submitter)

    @property
    def actor(self) -> str:
        """The account whose cards these are and whose vote counts."""
        return self.chain[-1]

    @property
    def label(self) -> str:
        """How a vote is recorded: ``"B for A"``, or ``"A"``."""
        return self.actor if self.actor == self.approver else f"{self.actor} for {self.approver}"


def resolve(
    approver: str,
    at: datetime,
    delegations: Iterable[Delegation],
    submitter: str | None = None,
) -> Resolution:
    """Who acts for ``approver`` at ``at``."""
    active = {d.account_id: d.delegate_id for d in delegations if d.active(at)}
    chain = [approver]
    while (nxt := active.get(chain[-1])) is not None:
        if nxt == submitter:
            note = f"{nxt} submitted the request and cannot act on it: not followed"
            return Resolution(approver, tuple(chain), note)
        if nxt in chain:  # cannot be set, but a store written by hand could hold one
            return Resolution(approver, tuple(chain), f"cycle at {nxt}: stopped")
        if len(chain) > MAX_DEPTH:
            return Resolution(approver, tuple(chain), f"more than {MAX_DEPTH} hops: stopped")
        chain.append(nxt)
    return Resolution(approver, tuple(chain))


def may_vote(
    clicker: str,
    approver: str,
    at: datetime,
    delegations: Iterable[Delegation],
    submitter: str | None = None,
) -> bool:
    """Whether ``clicker`` may vote for ``approver`` at ``at``: the approver, or their actor."""
    return clicker == approver or resolve(approver, at, delegations, submitter).actor == clicker


def check(new: Delegation, existing: Sequence[Delegation]) -> None:
    """Refuse (InvalidInput naming the field) a delegation that cannot be set."""
    if new.ends_at <= new.starts_at:
        raise InvalidInput("the delegation ends before it starts", {"ends_at": "after starts_at"})
    if new.delegate_id == new.account_id:
        raise InvalidInput("nobody delegates to themselves", {"delegate_id": "is the approver"})
    own = [d for d in existing if d.account_id == new.account_id and d.overlaps(new)]
    if own:
        raise InvalidInput(
            "one delegate at a time",
            {"starts_at": f"overlaps the delegation to {own[0].delegate_id}"},
        )
    for moment in _moments(new, existing):
        cycle = _cycle(new, moment, [*existing, new])
        if cycle:
            raise InvalidInput(
                "the delegation would make a cycle",
                {"delegate_id": f"cycle {' -> '.join(cycle)} at {moment.isoformat()}"},
            )


def _moments(new: Delegation, existing: Iterable[Delegation]) -> list[datetime]:
    # Who is away changes only where a window starts or ends: checking the new window's start
    # and every such point inside it covers every moment of the window.
    points = {new.starts_at}
    for other in existing:
        points.update(p for p in (other.starts_at, other.ends_at) if new.active(p))
    return sorted(points)


def _cycle(new: Delegation, at: datetime, all_: Iterable[Delegation]) -> list[str]:
    active = {d.account_id: d.delegate_id for d in all_ if d.active(at)}
    chain = [new.account_id]
    while (nxt := active.get(chain[-1])) is not None:
        chain.append(nxt)
        if nxt == new.account_id:
            return chain
        if chain.count(nxt) > 1:
            return []  # a cycle elsewhere (not through the new one)
    return []
