"""ApprovalService through its ports: expiry, withdrawal and the first decision, with a clock the
test moves (the store is the real SQLite one; nothing here sleeps or starts a server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.memory import MemoryChannel
from bot.channels.registry import REGISTRY, chat_platforms
from bot.core.intake import ApprovalRequest
from bot.core.lanes import lanes
from bot.core.models import (
    ActionStatus,
    ClickAction,
    DeliveryState,
    InboundAction,
    RequestStatus,
)
from bot.core.route_planner import Router
from bot.core.service import FORWARD_DECISION, ApprovalService, Withdrawal
from bot.errors import Conflict, InvalidInput
from bot.store.sqlite import SqliteStore
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Wakeups:
    count: int = 0
    kinds: list[tuple[str, ...]] = field(default_factory=list)

    def notify(self, *kinds: str) -> None:
        self.count += 1
        self.kinds.append(kinds)


@dataclass
class Core:
    service: ApprovalService
    clock: MovableClock
    wakeups: Wakeups = field(default_factory=Wakeups)
    store: SqliteStore | None = None


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    clock, wakeups, memory = MovableClock(T0), Wakeups(), MemoryChannel()
    service = ApprovalService(store, clock, Router({"memory": memory}, ["memory"]), wakeups)
    try:
        yield Core(service, clock, wakeups, store)
    finally:
        await store.close()


def _ticket(ticket_id: str, *, expires_in: timedelta = timedelta(hours=1)) -> ApprovalRequest:
    people = [("a1", "Ann"), ("a2", "Bob")]
    return ApprovalRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "title": "ALTER TABLE orders ADD INDEX idx_created_at (created_at)",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "approvers": [
                {"account_id": a, "display_name": n, "account_type": "main"} for a, n in people
            ],
            "console_url": f"https://dms.example.com/tickets/{ticket_id}",
            "expires_at": (T0 + expires_in).isoformat(),
        }
    )


async def _click(core: Core, ticket_id: str, account: str, what: ClickAction) -> ActionStatus:
    request = await core.service.get(ticket_id)
    card = next(d for d in request.deliveries if d.account_id == account)
    action = InboundAction(
        channel="memory", actor=account, ref=card.id, action=what, comment="ok", source="test"
    )
    return (await core.service.handle_action(action)).status


async def test_a_request_expires_when_the_clock_passes_its_deadline(core: Core) -> None:
    await core.service.submit(_ticket("T-EXP", expires_in=timedelta(minutes=10)))
    assert await core.service.expire_due() == 0
    core.clock.advance(timedelta(minutes=10))
    assert await core.service.expire_due() == 1
    assert (await core.service.get("T-EXP")).status is RequestStatus.EXPIRED
    assert await _click(core, "T-EXP", "a1", ClickAction.APPROVE) is ActionStatus.CLOSED


async def test_a_click_after_the_deadline_expires_the_request_before_the_sweeper(
    core: Core,
) -> None:
    await core.service.submit(_ticket("T-LATE", expires_in=timedelta(minutes=5)))
    core.clock.advance(timedelta(minutes=6))
    assert await _click(core, "T-LATE", "a1", ClickAction.APPROVE) is ActionStatus.CLOSED
    assert (await core.service.get("T-LATE")).status is RequestStatus.EXPIRED


async def test_a_request_already_past_its_deadline_is_refused(core: Core) -> None:
    core.clock.advance(timedelta(hours=2))
    with pytest.raises(InvalidInput) as refused:
        await core.service.submit(_ticket("T-OLD"))
    assert "expires_at" in refused.value.fields


async def test_the_first_decision_wins_and_the_second_is_told(core: Core) -> None:
    await core.service.submit(_ticket("T-WIN"))
    before = core.wakeups.count
    assert await _click(core, "T-WIN", "a1", ClickAction.APPROVE) is ActionStatus.DECIDED
    assert core.wakeups.count == before + 1  # the forward is waiting: the worker is woken
    assert await _click(core, "T-WIN", "a2", ClickAction.REJECT) is ActionStatus.ALREADY_DECIDED
    decided = await core.service.get("T-WIN")
    assert decided.status is RequestStatus.APPROVED
    assert decided.decision is not None and decided.decision.account_id == "a1"


async def test_a_withdrawal_is_idempotent_and_a_decided_request_cannot_be_withdrawn(
    core: Core,
) -> None:
    await core.service.submit(_ticket("T-WD"))
    first = await core.service.withdraw("T-WD", Withdrawal())
    again = await core.service.withdraw("T-WD", Withdrawal())
    assert first.status is again.status is RequestStatus.WITHDRAWN
    await core.service.submit(_ticket("T-DONE"))
    await _click(core, "T-DONE", "a1", ClickAction.APPROVE)
    with pytest.raises(Conflict):
        await core.service.withdraw("T-DONE", Withdrawal())


async def test_a_decision_wakes_the_lanes_of_its_cards_channels_only(core: Core) -> None:
    # Each paced platform has a lane of card updates: a decision whose cards are all on one
    # channel wakes that channel's lane, not every platform's (each would claim for nothing).
    await core.service.submit(_ticket("T-WAKE"))
    request = await core.service.get("T-WAKE")
    assert core.store is not None
    async with core.store.unit() as uow:
        for card in request.deliveries:
            await uow.deliveries.set_state(card.id, DeliveryState.SENT, T0, "sent")
    assert await _click(core, "T-WAKE", "a1", ClickAction.APPROVE) is ActionStatus.DECIDED
    woke = core.wakeups.kinds[-1]
    assert woke == (FORWARD_DECISION, "update_card memory")
    paced = lanes(forwards=1, updates=1, sends=1, channels=tuple(REGISTRY), paced=chat_platforms())
    assert {lane.name for lane in paced if any(lane.takes(k) for k in woke)} == {
        "forwards",
        "updates",
    }
