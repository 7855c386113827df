"""Multi-approver requests through ApprovalService's ports (the real SQLite store, a clock the test
moves): each rule, stage order, a quorum made impossible, self-approval, one vote per approver,
and what every card and the decision webhook then carry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.channels.memory import MemoryChannel
from bot.channels.present import card_view, toast_text
from bot.core.intake import ApprovalRequest
from bot.core.jobs import JobRunner
from bot.core.models import (
    ActionResult,
    ActionStatus,
    ClickAction,
    DeliveryState,
    InboundAction,
    RequestStatus,
    StoredRequest,
)
from bot.core.ports import BackendReceipt, DecisionEvent
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.store.sqlite import SqliteStore
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NAMES = {"a1": "Ann", "a2": "Bob", "a3": "Cai", "1001": "Chen Jie"}


class Wakeups:
    def notify(self, *kinds: str) -> None:
        """Nothing runs the jobs here: the test reads what was stored."""


@dataclass
class Core:
    service: ApprovalService
    clock: MovableClock
    store: SqliteStore


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    clock = MovableClock(T0)
    router = Router({"memory": MemoryChannel()}, ["memory"])
    try:
        yield Core(ApprovalService(store, clock, router, Wakeups()), clock, store)
    finally:
        await store.close()


def _people(*accounts: str) -> list[dict[str, str]]:
    return [{"account_id": a, "display_name": NAMES[a], "account_type": "main"} for a in accounts]


def _ticket(ticket_id: str, **roster: Any) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "title": "ALTER TABLE orders ADD INDEX idx_created_at (created_at)",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "console_url": f"https://dms.example.com/tickets/{ticket_id}",
            "expires_at": (T0 + timedelta(hours=4)).isoformat(),
            **roster,
        }
    )


async def _click(
    core: Core, ticket_id: str, account: str, what: ClickAction = ClickAction.APPROVE
) -> ActionResult:
    request = await core.service.get(ticket_id)
    card = next(d for d in request.deliveries if d.account_id == account)
    comment = "not now" if what is ClickAction.REJECT else None
    action = InboundAction(
        channel="memory", actor=account, ref=card.id, action=what, comment=comment, source="test"
    )
    core.clock.advance(timedelta(minutes=1))
    return await core.service.handle_action(action)


def _holders(request: StoredRequest) -> list[str]:
    return sorted(d.account_id for d in request.deliveries)


def _tally(request: StoredRequest, account: str) -> tuple[int, int]:
    delivery = next(d for d in request.deliveries if d.account_id == account)
    progress = card_view(request, delivery).progress
    assert progress is not None
    return len(progress.approved), progress.needed


async def test_all_of_waits_for_every_approver_and_decides_once(core: Core) -> None:
    await core.service.submit(
        _ticket("T-ALL", approvers=_people("a1", "a2"), policy={"rule": "all"})
    )
    first = await _click(core, "T-ALL", "a1")
    assert first.status is ActionStatus.VOTED and first.ok
    pending = await core.service.get("T-ALL")
    assert pending.status is RequestStatus.PENDING and pending.decision is None
    assert [_tally(pending, a) for a in ("a1", "a2")] == [(1, 2), (1, 2)]
    voter = card_view(pending, next(d for d in pending.deliveries if d.account_id == "a1"))
    assert voter.progress is not None and voter.progress.own_vote is not None
    second = await _click(core, "T-ALL", "a2")
    assert second.status is ActionStatus.DECIDED
    decided = await core.service.get("T-ALL")
    assert decided.status is RequestStatus.APPROVED
    assert decided.decision is not None and decided.decision.account_id == "a2"
    assert [(v.account_id, v.display_name) for v in decided.votes] == [("a1", "Ann"), ("a2", "Bob")]


async def test_all_of_is_rejected_by_one_rejection(core: Core) -> None:
    await core.service.submit(
        _ticket("T-NO", approvers=_people("a1", "a2"), policy={"rule": "all"})
    )
    assert (await _click(core, "T-NO", "a1", ClickAction.REJECT)).status is ActionStatus.DECIDED
    assert (await core.service.get("T-NO")).status is RequestStatus.REJECTED


async def test_a_quorum_made_impossible_rejects(core: Core) -> None:
    policy = {"rule": "quorum", "quorum": 2}
    await core.service.submit(_ticket("T-Q", approvers=_people("a1", "a2", "a3"), policy=policy))
    assert (await _click(core, "T-Q", "a1", ClickAction.REJECT)).status is ActionStatus.VOTED
    assert (await core.service.get("T-Q")).status is RequestStatus.PENDING
    assert (await _click(core, "T-Q", "a2", ClickAction.REJECT)).status is ActionStatus.DECIDED
    rejected = await core.service.get("T-Q")
    assert rejected.status is RequestStatus.REJECTED and len(rejected.votes) == 2


async def test_a_quorum_approves_at_its_count(core: Core) -> None:
    policy = {"rule": "quorum", "quorum": 2}
    await core.service.submit(_ticket("T-Q2", approvers=_people("a1", "a2", "a3"), policy=policy))
    assert (await _click(core, "T-Q2", "a3")).status is ActionStatus.VOTED
    assert (await _click(core, "T-Q2", "a1")).status is ActionStatus.DECIDED
    assert (await core.service.get("T-Q2")).status is RequestStatus.APPROVED
    assert (await _click(core, "T-Q2", "a2")).status is ActionStatus.ALREADY_DECIDED


async def test_one_vote_per_approver_and_the_toast_says_when(core: Core) -> None:
    await core.service.submit(
        _ticket("T-TWICE", approvers=_people("a1", "a2"), policy={"rule": "all"})
    )
    assert (await _click(core, "T-TWICE", "a1")).status is ActionStatus.VOTED
    again = await _click(core, "T-TWICE", "a1", ClickAction.REJECT)
    assert again.status is ActionStatus.ALREADY_VOTED
    assert toast_text(again) == "You approved at 2026-03-02 09:01 UTC; your vote stands."
    request = await core.service.get("T-TWICE")
    assert request.status is RequestStatus.PENDING and len(request.votes) == 1


async def test_stages_run_in_order_and_the_next_stage_gets_cards_only_once_opened(
    core: Core,
) -> None:
    stages = [
        {"name": "DBA review", "approvers": _people("a1", "a2"), "rule": "all"},
        {"name": "Service owner", "approvers": _people("a3")},
    ]
    receipt = await core.service.submit(_ticket("T-ST", stages=stages))
    assert sorted(d.account_id for d in receipt.deliveries) == ["a1", "a2"]
    assert (await _click(core, "T-ST", "a1")).status is ActionStatus.VOTED
    assert _holders(await core.service.get("T-ST")) == ["a1", "a2"]
    assert (await _click(core, "T-ST", "a2")).status is ActionStatus.VOTED
    opened = await core.service.get("T-ST")
    assert opened.status is RequestStatus.PENDING and _holders(opened) == ["a1", "a2", "a3"]
    first_stage_card = next(d for d in opened.deliveries if d.account_id == "a1")
    progress = card_view(opened, first_stage_card).progress
    assert progress is not None and progress.passed_to == "Service owner"
    assert (await _click(core, "T-ST", "a3")).status is ActionStatus.DECIDED
    decided = await core.service.get("T-ST")
    assert decided.status is RequestStatus.APPROVED
    assert [(v.stage, v.account_id) for v in decided.votes] == [(0, "a1"), (0, "a2"), (1, "a3")]


async def test_an_approver_of_a_later_stage_is_told_it_is_not_their_turn(core: Core) -> None:
    stages = [
        {"name": "Leads", "approvers": _people("a1", "a3")},  # any: a1 passes it on
        {"name": "DBA", "approvers": _people("a2")},
        {"name": "Owner", "approvers": _people("a3")},
    ]
    await core.service.submit(_ticket("T-TURN", stages=stages))
    assert (await _click(core, "T-TURN", "a1")).status is ActionStatus.VOTED
    early = await _click(core, "T-TURN", "a3")
    assert early.status is ActionStatus.NOT_YET
    assert toast_text(early).startswith("Not your stage yet")
    assert len((await core.service.get("T-TURN")).votes) == 1


async def test_the_submitter_gets_no_card_unless_self_approval_is_allowed(core: Core) -> None:
    people = _people("1001", "a1")
    refused = await core.service.submit(_ticket("T-SELF", approvers=people, policy={"rule": "all"}))
    assert [d.account_id for d in refused.deliveries] == ["a1"]
    assert (await _click(core, "T-SELF", "a1")).status is ActionStatus.DECIDED
    allowed = {"rule": "all", "allow_self_approval": True}
    taken = await core.service.submit(_ticket("T-OWN", approvers=people, policy=allowed))
    assert sorted(d.account_id for d in taken.deliveries) == ["1001", "a1"]


async def test_a_first_click_request_is_decided_by_its_first_vote_as_before(core: Core) -> None:
    await core.service.submit(_ticket("T-ANY", approvers=_people("a1", "a2")))
    decided = await _click(core, "T-ANY", "a2")
    assert decided.status is ActionStatus.DECIDED
    request = await core.service.get("T-ANY")
    assert card_view(request, request.deliveries[0]).progress is None  # drawn as before
    assert (await _click(core, "T-ANY", "a1")).status is ActionStatus.ALREADY_DECIDED


class RecordingBackend:
    def __init__(self) -> None:
        self.events: list[DecisionEvent] = []

    async def deliver(self, event: DecisionEvent) -> BackendReceipt:
        self.events.append(event)
        return BackendReceipt(status=200)


async def test_the_one_forward_carries_every_vote_and_each_stage(core: Core) -> None:
    stages = [
        {"name": "DBA review", "approvers": _people("a1", "a2"), "rule": "all"},
        {"name": "Service owner", "approvers": _people("a3")},
    ]
    await core.service.submit(_ticket("T-HOOK", stages=stages))
    for account in ("a1", "a2", "a3"):
        await _click(core, "T-HOOK", account)
    backend = RecordingBackend()
    runner = JobRunner(core.store, core.clock, {}, backend, core.service)
    async with core.store.unit() as uow:
        later = core.clock.now() + timedelta(hours=1)
        jobs = await uow.outbox.claim("t", later, later, 50, kinds=("forward_decision",))
    assert len(jobs) == 1
    await runner.run(jobs[0])
    (event,) = backend.events
    assert [(v.account_id, v.display_name, v.stage) for v in event.votes] == [
        ("a1", "Ann", 0),
        ("a2", "Bob", 0),
        ("a3", "Cai", 1),
    ]
    assert all(v.channel == "memory" and v.outcome == "approved" for v in event.votes)
    assert [(s.name, s.result, s.approved) for s in event.stages] == [
        ("DBA review", "approved", 2),
        ("Service owner", "approved", 1),
    ]


async def test_a_vote_counted_after_another_is_never_timed_before_it(core: Core) -> None:
    # A click that reached one replica first but waited for another replica's lock is counted
    # second (here: a replica whose clock reads earlier): the rules take votes in time order,
    # so its time must follow the one counted before it, or the rules would see an outcome
    # reached before a vote they were given.
    policy = {"rule": "quorum", "quorum": 2}
    await core.service.submit(_ticket("T-ORD", approvers=_people("a1", "a2", "a3"), policy=policy))
    assert (await _click(core, "T-ORD", "a1", ClickAction.REJECT)).status is ActionStatus.VOTED
    assert (await _click(core, "T-ORD", "a2")).status is ActionStatus.VOTED
    behind = MovableClock(T0)  # before either vote above
    router = Router({"memory": MemoryChannel()}, ["memory"])
    other = Core(ApprovalService(core.store, behind, router, Wakeups()), behind, core.store)
    assert (await _click(other, "T-ORD", "a3", ClickAction.REJECT)).status is ActionStatus.DECIDED
    decided = await core.service.get("T-ORD")
    assert [v.account_id for v in decided.votes] == ["a1", "a2", "a3"]
    times = [v.at for v in decided.votes]
    assert times == sorted(times) and len(set(times)) == 3
    assert decided.status is RequestStatus.REJECTED


async def test_votes_that_come_together_redraw_each_card_once(core: Core) -> None:
    # The updates lane has not run yet: Cai's card has a redraw waiting, and it will draw the
    # request as it is when it runs, so the second vote adds none (Lark takes 5 a second).
    await core.service.submit(
        _ticket("T-COAL", approvers=_people("a1", "a2", "a3"), policy={"rule": "all"})
    )
    request = await core.service.get("T-COAL")
    for delivery in request.deliveries:  # every card out, as the sends lane would leave them
        async with core.store.unit() as uow:
            await uow.deliveries.set_state(delivery.id, DeliveryState.SENT, T0, "sent")
    assert (await _click(core, "T-COAL", "a1")).status is ActionStatus.VOTED
    assert (await _click(core, "T-COAL", "a2")).status is ActionStatus.VOTED
    cai = next(d.id for d in request.deliveries if d.account_id == "a3")
    async with core.store.write() as tx:
        rows = await tx.fetch_all(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'update_card' AND ref = ?"
            " AND state = 'pending'",
            (cai,),
        )
    assert rows[0]["n"] == 1
