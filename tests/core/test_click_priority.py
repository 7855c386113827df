"""A click's decision is not held behind a queue of ordinary writes.

Driven through the core's ports (SQLite store, the memory channel) with a clock the test sets:
one write holds the store while many submissions queue behind it, then an approver clicks. The
store is wrapped so the test sees the order in which transactions got their turn, counted, not
timed: the click's goes right after the one that was running, before every queued submission.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bot.channels.memory import MemoryChannel
from bot.channels.registry import REGISTRY, chat_platforms
from bot.core.intake import ApprovalRequest
from bot.core.jobs import JobRunner
from bot.core.lanes import lanes
from bot.core.models import (
    ActionResult,
    ActionStatus,
    ClickAction,
    DeliveryState,
    ForwardState,
    InboundAction,
)
from bot.core.ports import BackendReceipt, DecisionEvent, UnitOfWork
from bot.core.route_planner import Router
from bot.core.service import (
    FORWARD_DECISION,
    SEND_CARD,
    TELL_IDENTITY,
    UPDATE_CARD,
    ApprovalService,
)
from bot.store.sqlite import SqliteStore
from sandbox.tickets import approver, sample_ticket
from tests.support.clock import MovableClock

QUEUED = 30  # submissions queued behind the write that holds the store
T = TypeVar("T")


class Backend:
    async def deliver(self, event: DecisionEvent) -> BackendReceipt:
        return BackendReceipt(status=200)


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        pass


class Turns:
    """The ``Store`` port over a SQLite store, noting who got a write's turn, in order."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.order: list[str] = []  # "urgent" or "ordinary", as each write's body began

    @asynccontextmanager
    async def unit(self, *, urgent: bool = False) -> AsyncIterator[UnitOfWork]:
        async with self.store.unit(urgent=urgent) as tx:
            self.order.append("urgent" if urgent else "ordinary")
            yield tx

    @asynccontextmanager
    async def snapshot(self, *, urgent: bool = False) -> AsyncIterator[UnitOfWork]:
        async with self.store.snapshot(urgent=urgent) as tx:
            yield tx


async def _until(condition: Callable[[], bool]) -> None:
    # Lets queued tasks take their first steps (loop turns, no timer); bounded.
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the writes never queued")


def _ticket(ticket_id: str, *accounts: str) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        sample_ticket(ticket_id, [approver(a, a.upper()) for a in accounts])
    )


async def _behind_a_queue(
    store: Turns, sqlite: SqliteStore, service: ApprovalService, late: Coroutine[Any, Any, T]
) -> T:
    """Run ``late`` once one write holds the store and QUEUED submissions wait behind it (the
    order of turns is noted from the first of them), then let them all go; ``late``'s result."""
    hold, holding = asyncio.Event(), asyncio.Event()

    async def blocker() -> None:
        async with store.unit():
            holding.set()
            await hold.wait()

    holder = asyncio.create_task(blocker())
    await holding.wait()
    store.order.clear()
    submits = [
        asyncio.create_task(service.submit(_ticket(f"T-Q{i}", f"q{i}"))) for i in range(QUEUED)
    ]
    await _until(lambda: sqlite.stats.waiting == QUEUED)
    task = asyncio.create_task(late)
    await _until(lambda: sqlite.stats.waiting == QUEUED + 1)
    hold.set()
    result = await task
    await asyncio.gather(holder, *submits)
    return result


async def test_a_click_is_decided_before_the_writes_queued_ahead_of_it(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "gateway.db")
    await sqlite.open()
    store, clock, memory = (
        Turns(sqlite),
        MovableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        MemoryChannel(),
    )
    service = ApprovalService(store, clock, Router({"memory": memory}, ["memory"]), NoWakeup())
    jobs = JobRunner(store, clock, {"memory": memory}, Backend(), service)
    try:
        receipt = await service.submit(_ticket("T-CLICK", "a1"))
        async with sqlite.unit() as tx:
            (job,) = await tx.outbox.claim("test", clock.now(), clock.now(), 10)
        await jobs.run(job)  # the card is on a1's phone
        click = InboundAction(
            channel="memory",
            actor="a1",
            ref=receipt.deliveries[0].delivery_id,
            action=ClickAction.APPROVE,
            source="test",
        )
        result = await _behind_a_queue(store, sqlite, service, service.handle_action(click))
    finally:
        await sqlite.close()
    assert result.status is ActionStatus.DECIDED
    assert store.order == ["urgent"] + ["ordinary"] * QUEUED


async def _decided(
    store: Turns, clock: MovableClock, tickets: int
) -> tuple[ApprovalService, JobRunner, list[ActionResult]]:
    # ``tickets`` requests, each with its card sent and then approved by its one approver.
    memory = MemoryChannel()
    service = ApprovalService(store, clock, Router({"memory": memory}, ["memory"]), NoWakeup())
    jobs = JobRunner(store, clock, {"memory": memory}, Backend(), service)
    receipts = [await service.submit(_ticket(f"T-D{i}", f"d{i}")) for i in range(tickets)]
    async with store.store.unit() as tx:
        claimed = await tx.outbox.claim("test", clock.now(), clock.now(), 10 * tickets)
    for job in claimed:
        await jobs.run(job)
    results = []
    for i, receipt in enumerate(receipts):
        click = InboundAction(
            channel="memory",
            actor=f"d{i}",
            ref=receipt.deliveries[0].delivery_id,
            action=ClickAction.APPROVE,
            source="test",
        )
        results.append(await service.handle_action(click))
    return service, jobs, results


async def test_a_forward_is_recorded_before_the_writes_queued_ahead_of_it(tmp_path: Path) -> None:
    # Behind a card backlog the forwards lane's slots are held until the forward is recorded:
    # that write is urgent, like the click and the forward's claim and read.
    sqlite = SqliteStore(tmp_path / "gateway.db")
    await sqlite.open()
    store, clock = Turns(sqlite), MovableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    try:
        service, jobs, _ = await _decided(store, clock, 1)
        async with sqlite.unit() as tx:
            (forward,) = await tx.outbox.claim(
                "test", clock.now(), clock.now(), 10, kinds=(FORWARD_DECISION,)
            )
        await _behind_a_queue(store, sqlite, service, jobs.run(forward))
        stored = await service.get("T-D0")
    finally:
        await sqlite.close()
    assert stored.decision is not None
    assert stored.decision.forward_state is ForwardState.FORWARDED
    assert store.order == ["urgent"] + ["ordinary"] * QUEUED


async def test_the_answers_of_clicks_decided_together_are_recorded_in_one_unit(
    tmp_path: Path,
) -> None:
    sqlite = SqliteStore(tmp_path / "gateway.db")
    await sqlite.open()
    store, clock = Turns(sqlite), MovableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    try:
        service, _, results = await _decided(store, clock, 5)
        store.order.clear()
        await asyncio.gather(*(service.answered(r, redrawn=True) for r in results))
        shown = [await service.get(f"T-D{i}") for i in range(5)]
    finally:
        await sqlite.close()
    assert store.order == ["ordinary"]  # one unit for the five answers
    assert all(r.deliveries[0].state is DeliveryState.UPDATED for r in shown)


def test_the_forwards_lane_claims_as_urgent_work_and_the_others_do_not() -> None:
    urgent = {lane.name: lane.urgent for lane in lanes(forwards=1, updates=1, sends=1)}
    assert urgent == {"forwards": True, "updates": False, "sends": False, "timers": False}


def test_a_submission_wakes_only_the_sends_lane_and_a_decision_not_the_sends_lane() -> None:
    # What the service names in Wakeup.notify, and which lanes look at once for it.
    by_lane = lanes(forwards=1, updates=1, sends=1)

    def woken(*kinds: str) -> set[str]:
        return {lane.name for lane in by_lane if any(lane.takes(k) for k in kinds)}

    assert woken(SEND_CARD) == {"sends"}
    assert woken(FORWARD_DECISION, UPDATE_CARD) == {"forwards", "updates"}
    assert woken(TELL_IDENTITY) == {"updates"}
    assert woken("a_kind_this_version_does_not_know") == set()  # left for a replica that does


def test_a_redraw_for_a_channel_wakes_that_channels_lane_of_updates() -> None:
    by_lane = lanes(
        forwards=1, updates=1, sends=1, channels=tuple(REGISTRY), paced=chat_platforms()
    )

    def woken(*kinds: str) -> set[str]:
        return {lane.name for lane in by_lane if any(lane.takes(k) for k in kinds)}

    assert woken(f"{UPDATE_CARD} lark") == {"updates-lark"}
    assert woken(f"{UPDATE_CARD} dingtalk") == {"updates-dingtalk"}
    assert woken(f"{UPDATE_CARD} email", TELL_IDENTITY) == {"updates"}
    # A kind alone (another replica's NOTIFY from before channels were named): every lane of it.
    assert woken(UPDATE_CARD) == {
        "updates",
        "updates-lark",
        "updates-dingtalk",
        "updates-dingtalk_enterprise",
    }


async def test_a_decided_clicks_answer_carries_the_request_as_stored(tmp_path: Path) -> None:
    # The decision's transaction builds the answer's request without reading it back again.
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    clock, memory = MovableClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)), MemoryChannel()
    service = ApprovalService(store, clock, Router({"memory": memory}, ["memory"]), NoWakeup())
    jobs = JobRunner(store, clock, {"memory": memory}, Backend(), service)
    try:
        receipt = await service.submit(_ticket("T-SAME", "a1", "a2"))
        async with store.unit() as tx:
            claimed = await tx.outbox.claim("test", clock.now(), clock.now(), 10)
        for job in claimed:
            await jobs.run(job)
        click = InboundAction(
            channel="memory",
            actor="a1",
            ref=receipt.deliveries[0].delivery_id,
            action=ClickAction.REJECT,
            comment="not now",
            source="test",
        )
        result = await service.handle_action(click)
        stored = await service.get("T-SAME")
    finally:
        await store.close()
    assert result.status is ActionStatus.DECIDED
    assert result.request == stored
