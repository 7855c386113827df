"""At the deadline the request closes as its ``on_expiry`` says: expired, rejected, or approved
where the deployment allows it; a decision by the policy is forwarded once, like a vote."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.models import ForwardState, RequestStatus
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.core.timing.policy import TimingPolicy
from bot.store.sqlite import SqliteStore
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Make = Callable[[TimingPolicy], ApprovalService]


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        pass


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[tuple[Make, MovableClock]]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    clock = MovableClock(T0)
    router = Router({"memory": MemoryChannel()}, ["memory"])

    def build(policy: TimingPolicy) -> ApprovalService:
        return ApprovalService(store, clock, router, NoWakeup(), policy)

    try:
        yield build, clock
    finally:
        await store.close()


def _ticket(ticket_id: str, **timing: Any) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "title": "DROP INDEX idx_old",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "approvers": [{"account_id": "a1", "display_name": "Ann", "account_type": "main"}],
            "console_url": f"https://dms.example.com/tickets/{ticket_id}",
            "expires_at": (T0 + timedelta(minutes=30)).isoformat(),
            **timing,
        }
    )


@pytest.mark.parametrize(
    ("on_expiry", "policy", "status"),
    [
        (None, TimingPolicy(), RequestStatus.EXPIRED),
        ("reject", TimingPolicy(), RequestStatus.REJECTED),
        (None, TimingPolicy(on_expiry="reject"), RequestStatus.REJECTED),  # the deployment's
        ("approve", TimingPolicy(allow_auto_approve=True), RequestStatus.APPROVED),
        # allowed at intake, no longer allowed at the deadline: it expires, nobody approved it
        ("approve", TimingPolicy(), RequestStatus.EXPIRED),
    ],
)
async def test_the_sweep_closes_as_on_expiry_says(
    make: tuple[Make, MovableClock],
    on_expiry: str | None,
    policy: TimingPolicy,
    status: RequestStatus,
) -> None:
    build, clock = make
    service = build(policy)
    await service.submit(_ticket("T-END", on_expiry=on_expiry))
    assert await service.expire_due() == 0
    clock.advance(timedelta(minutes=30))
    assert await service.expire_due() == 1
    closed = await service.get("T-END")
    assert closed.status is status
    if status is RequestStatus.EXPIRED:
        assert closed.decision is None
        return
    decision = closed.decision
    assert decision is not None and decision.source == "policy"
    assert decision.account_id == "policy" and decision.forward_state is ForwardState.PENDING
    assert await service.expire_due() == 0  # closed once: one decision


async def test_a_click_after_the_deadline_closes_it_as_on_expiry_says(
    make: tuple[Make, MovableClock],
) -> None:
    from bot.core.models import ActionStatus, ClickAction, InboundAction

    build, clock = make
    service = build(TimingPolicy())
    await service.submit(_ticket("T-LATE", on_expiry="reject"))
    clock.advance(timedelta(minutes=31))
    card = (await service.get("T-LATE")).deliveries[0]
    click = InboundAction(
        channel="memory", actor="a1", ref=card.id, action=ClickAction.APPROVE, source="test"
    )
    assert (await service.handle_action(click)).status is ActionStatus.ALREADY_DECIDED
    closed = await service.get("T-LATE")
    assert closed.status is RequestStatus.REJECTED
    assert closed.decision is not None and closed.decision.source == "policy"
