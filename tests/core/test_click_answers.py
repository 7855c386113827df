"""The clicker's card is redrawn by the click's answer only when the channel says so.

Driven through the core's ports (SQLite store, the memory channel, a recording backend) with a
clock the test moves, so the backstop's grace period is crossed without waiting for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.jobs import JobRunner
from bot.core.models import ActionResult, ActionStatus, ClickAction, InboundAction
from bot.core.ports import BackendReceipt, DecisionEvent, OutgoingCard, SendReceipt
from bot.core.redraw import ANSWER_GRACE
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.store.sqlite import SqliteStore
from sandbox.tickets import approver, sample_ticket
from tests.support.clock import MovableClock


class Backend:
    async def deliver(self, event: DecisionEvent) -> BackendReceipt:
        return BackendReceipt(status=200)


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        pass


@dataclass
class Core:
    store: SqliteStore
    clock: MovableClock
    service: ApprovalService
    jobs: JobRunner
    memory: MemoryChannel

    async def run_due_jobs(self) -> list[str]:
        """Claim and run every job due now; the kinds that ran."""
        async with self.store.unit() as tx:
            claimed = await tx.outbox.claim("test", self.clock.now(), self.clock.now(), 100)
        for job in claimed:
            await self.jobs.run(job)
            async with self.store.unit() as tx:
                await tx.outbox.complete(job.id, "test")
        return [job.kind for job in claimed]

    async def decide(self) -> tuple[ActionResult, str]:
        """Submit a ticket for a1 and a2, send the cards, and have a1 approve."""
        ticket = ApprovalRequest.model_validate(
            sample_ticket("T-ANS", [approver("a1", "Ann"), approver("a2", "Bob")])
        )
        await self.service.submit(ticket)
        await self.run_due_jobs()
        request = await self.service.get("T-ANS")
        mine = next(d for d in request.deliveries if d.account_id == "a1")
        action = InboundAction(
            channel="memory", actor="a1", ref=mine.id, action=ClickAction.APPROVE, source="test"
        )
        result = await self.service.handle_action(action)
        assert result.status is ActionStatus.DECIDED
        return result, mine.id

    async def state_of(self, delivery_id: str) -> tuple[str, str]:
        request = await self.service.get("T-ANS")
        delivery = next(d for d in request.deliveries if d.id == delivery_id)
        return str(delivery.state), delivery.history[-1].detail


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    await store.migrate()
    clock, memory = MovableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)), MemoryChannel()
    service = ApprovalService(store, clock, Router({"memory": memory}, ["memory"]), NoWakeup())
    jobs = JobRunner(store, clock, {"memory": memory}, Backend(), service)
    try:
        yield Core(store, clock, service, jobs, memory)
    finally:
        await store.close()


async def test_a_card_nobody_reported_on_is_redrawn_once_the_grace_is_over(core: Core) -> None:
    # The gateway crashed between the decision and the answer: nothing says the card shows it.
    _, mine = await core.decide()
    await core.run_due_jobs()  # the other approver's card, and the forward
    assert len(core.memory.cards[mine].versions) == 1
    assert (await core.state_of(mine))[0] == "sent"
    core.clock.advance(ANSWER_GRACE)
    assert "update_card" in await core.run_due_jobs()
    assert len(core.memory.cards[mine].versions) == 2
    assert (await core.state_of(mine))[0] == "updated"


async def test_an_answer_the_platform_took_needs_no_update(core: Core) -> None:
    result, mine = await core.decide()
    await core.service.answered(result, redrawn=True)
    assert await core.state_of(mine) == ("updated", "redrawn in the click answer")
    await core.run_due_jobs()
    core.clock.advance(ANSWER_GRACE)
    assert await core.run_due_jobs() == ["update_card"]  # the backstop, which does nothing
    assert len(core.memory.cards[mine].versions) == 1


async def test_an_answer_that_missed_the_deadline_redraws_the_card_at_once(core: Core) -> None:
    result, mine = await core.decide()
    await core.service.answered(result, redrawn=False)
    await core.run_due_jobs()  # no clock move: due now
    assert len(core.memory.cards[mine].versions) == 2
    assert (await core.state_of(mine))[0] == "updated"
    core.clock.advance(ANSWER_GRACE)
    await core.run_due_jobs()  # the backstop sees the card already shows the outcome
    assert len(core.memory.cards[mine].versions) == 2


async def test_a_card_that_went_out_while_the_request_closed_shows_the_outcome(
    core: Core,
) -> None:
    # The platform takes Bob's card while Ann's decision commits: the send's own commit sees the
    # request closed, and Bob's card must not stay live with its buttons.
    ticket = ApprovalRequest.model_validate(
        sample_ticket("T-ANS", [approver("a1", "Ann"), approver("a2", "Bob")])
    )
    await core.service.submit(ticket)
    request = await core.service.get("T-ANS")
    ann, bob = (next(d for d in request.deliveries if d.account_id == a) for a in ("a1", "a2"))
    sent = core.memory.send

    async def send_while_ann_decides(card: OutgoingCard) -> SendReceipt:
        receipt = await sent(card)
        if card.delivery.id == bob.id:
            action = InboundAction(
                channel="memory", actor="a1", ref=ann.id, action=ClickAction.APPROVE, source="t"
            )
            assert (await core.service.handle_action(action)).status is ActionStatus.DECIDED
        return receipt

    core.memory.send = send_while_ann_decides  # type: ignore[method-assign]
    await core.run_due_jobs()  # both sends; Bob's commits after the decision
    assert "update_card" in await core.run_due_jobs()
    assert str(core.memory.cards[bob.id].view.state) == "approved"
    assert (await core.state_of(bob.id))[0] == "updated"
