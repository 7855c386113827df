"""Two replicas' ApprovalServices on one PostgreSQL database, closing the same request at the
same moment: both transactions read it pending, then both try to close it, and the loser's close
waits for the winner's commit and finds it closed. The loser must get the answer of whatever
came second (told who decided, refused, or skipped), never an error. SQLite serialises write
transactions, so only PostgreSQL can get two of them this far at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.jobs import JobRunner
from bot.core.models import ActionStatus, ClickAction, InboundAction, RequestStatus
from bot.core.route_planner import Router
from bot.core.service import ApprovalService, Withdrawal
from bot.errors import Conflict
from bot.store.postgres import PostgresStore
from bot.store.repos.requests import RequestRows
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class NoBackend:
    async def deliver(self, *args: Any) -> Any:
        raise AssertionError("no decision is forwarded here")


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        return None


STORES: dict[ApprovalService, PostgresStore] = {}  # each replica's own store


@pytest.fixture
async def replicas(
    pg_url: str,
) -> AsyncIterator[tuple[ApprovalService, ApprovalService, MovableClock]]:
    """Two services, each on a pool of its own, as two gateway processes are."""
    clock = MovableClock(T0)
    stores = [PostgresStore(pg_url, pool_size=2) for _ in range(2)]
    for store in stores:
        await store.open()
    router = Router({"memory": MemoryChannel()}, ["memory"])
    a, b = (ApprovalService(s, clock, router, NoWakeup()) for s in stores)
    STORES.update({a: stores[0], b: stores[1]})
    try:
        yield a, b, clock
    finally:
        STORES.clear()
        for store in stores:
            await store.close()


@pytest.fixture
def both_close_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every close of a request (``close``, or a click's ``close_held`` under the request's
    lock) waits until two transactions have reached it: both read the request pending before
    either closes it."""
    barrier = asyncio.Barrier(2)
    for name in ("close", "close_held"):
        original: Callable[..., Awaitable[Any]] = getattr(RequestRows, name)

        async def closing(self: RequestRows, *args: Any, _close: Any = original) -> Any:
            await asyncio.wait_for(barrier.wait(), 10)
            return await _close(self, *args)

        monkeypatch.setattr(RequestRows, name, closing)


@pytest.fixture
def both_click_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every click's lock of the request waits until two clicks have reached it: they arrive
    together, then take turns (the second reads the request as the first left it)."""
    barrier = asyncio.Barrier(2)
    original: Callable[..., Awaitable[Any]] = RequestRows.for_vote

    async def for_vote(self: RequestRows, delivery_id: str, channel: Any = None) -> Any:
        await asyncio.wait_for(barrier.wait(), 10)
        return await original(self, delivery_id, channel)

    monkeypatch.setattr(RequestRows, "for_vote", for_vote)


def _ticket(ticket_id: str, expires_in: timedelta = timedelta(hours=1)) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "title": "Add an index to orders",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "approvers": [
                {"account_id": a, "display_name": n, "account_type": "main"}
                for a, n in (("a1", "Ann"), ("a2", "Bob"))
            ],
            "console_url": f"https://dms.example.com/tickets/{ticket_id}",
            "expires_at": (T0 + expires_in).isoformat(),
        }
    )


async def _click(service: ApprovalService, ticket_id: str, account: str) -> InboundAction:
    request = await service.get(ticket_id)
    card = next(d for d in request.deliveries if d.account_id == account)
    return InboundAction(
        channel="memory", actor=account, ref=card.id, action=ClickAction.APPROVE, source="test"
    )


async def test_two_replicas_taking_two_clicks_at_once_decide_once_and_tell_the_loser(
    replicas: tuple[ApprovalService, ApprovalService, MovableClock], both_click_together: None
) -> None:
    a, b, _ = replicas
    await a.submit(_ticket("T-RACE"))
    clicks = [await _click(a, "T-RACE", "a1"), await _click(b, "T-RACE", "a2")]
    results = await asyncio.gather(a.handle_action(clicks[0]), b.handle_action(clicks[1]))
    statuses = sorted(r.status.value for r in results)
    assert statuses == sorted([ActionStatus.DECIDED.value, ActionStatus.ALREADY_DECIDED.value])
    winner = next(r for r in results if r.status is ActionStatus.DECIDED)
    loser = next(r for r in results if r.status is ActionStatus.ALREADY_DECIDED)
    assert loser.request is not None and loser.request.decision is not None
    assert winner.delivery is not None
    assert loser.request.decision.account_id == winner.delivery.account_id  # who decided
    assert (await a.get("T-RACE")).status is RequestStatus.APPROVED


async def test_two_replicas_sweeping_at_once_expire_a_request_once(
    replicas: tuple[ApprovalService, ApprovalService, MovableClock], both_close_together: None
) -> None:
    a, b, clock = replicas
    await a.submit(_ticket("T-SWEEP", expires_in=timedelta(minutes=5)))
    clock.advance(timedelta(minutes=6))
    assert sorted(await asyncio.gather(a.expire_due(), b.expire_due())) == [0, 1]
    assert (await b.get("T-SWEEP")).status is RequestStatus.EXPIRED


async def test_a_withdrawal_racing_a_click_on_another_replica_is_refused_with_the_outcome(
    replicas: tuple[ApprovalService, ApprovalService, MovableClock], both_close_together: None
) -> None:
    a, b, _ = replicas
    await a.submit(_ticket("T-WD"))
    click = await _click(a, "T-WD", "a1")
    outcomes = await asyncio.gather(
        a.handle_action(click), b.withdraw("T-WD", Withdrawal()), return_exceptions=True
    )
    final = (await a.get("T-WD")).status
    if final is RequestStatus.APPROVED:
        refused = outcomes[1]
        assert isinstance(refused, Conflict), refused
        assert "already approved" in refused.message
    else:
        assert final is RequestStatus.WITHDRAWN
        assert not isinstance(outcomes[0], BaseException)
        assert outcomes[0].status is ActionStatus.CLOSED


async def test_a_card_sent_while_another_replica_decides_is_redrawn(
    replicas: tuple[ApprovalService, ApprovalService, MovableClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica B records a's card as sent while replica A's click (on the other approver's
    card) closes the request: both reach the request's row lock together (the click's is
    exclusive, the send's shared, so one waits for the other's commit). Whichever commits
    first, the card that just went out gets an update to show the outcome."""
    a, b, clock = replicas
    await a.submit(_ticket("T-SKEW"))
    barrier = asyncio.Barrier(2)
    lock_request, click_lock = RequestRows.lock, RequestRows.for_vote

    async def locking(self: RequestRows, request_id: str, *, exclusive: bool = False) -> None:
        await asyncio.wait_for(barrier.wait(), 10)  # the card is out and the click in
        await lock_request(self, request_id, exclusive=exclusive)

    async def clicking(self: RequestRows, delivery_id: str, channel: Any = None) -> Any:
        await asyncio.wait_for(barrier.wait(), 10)  # the click locks its request in for_vote
        return await click_lock(self, delivery_id, channel)

    monkeypatch.setattr(RequestRows, "lock", locking)
    monkeypatch.setattr(RequestRows, "for_vote", clicking)
    request = await a.get("T-SKEW")
    sent = next(d for d in request.deliveries if d.account_id == "a2")
    store_b = STORES[b]  # replica B's worker runs on B's store
    async with store_b.unit() as tx:
        jobs = await tx.outbox.claim("b", clock.now(), clock.now() + timedelta(minutes=1), 10)
    job = next(j for j in jobs if j.ref == sent.id)
    runner = JobRunner(store_b, clock, {"memory": MemoryChannel()}, NoBackend(), b)
    click = await _click(a, "T-SKEW", "a1")
    decided, _ = await asyncio.gather(a.handle_action(click), runner.run(job))
    assert decided.status is ActionStatus.DECIDED
    async with store_b.unit() as tx:
        later = clock.now() + timedelta(hours=1)
        updates = await tx.outbox.claim("check", later, later, 10, kinds=("update_card",))
    assert sent.id in {j.ref for j in updates}, "the card sent meanwhile is redrawn"
