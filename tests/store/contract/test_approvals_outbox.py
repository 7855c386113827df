"""Requests, decisions and the outbox: claims under a lease, takeover after it, one decision per
request even when two transactions race for it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.intake import ApprovalRequest
from bot.core.models import (
    Decision,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    ForwardState,
    Outcome,
    RequestStatus,
    StoredRequest,
)
from bot.errors import Conflict, StoreError
from bot.store.engine import EngineStore
from bot.store.probe import StoreProbe
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _request(request_id: str) -> StoredRequest:
    ticket = ApprovalRequest.model_validate(
        sample_ticket(f"T-{request_id}", [approver("a1", "Ann")])
    )
    return StoredRequest(id=request_id, ticket=ticket, status=RequestStatus.PENDING, created_at=T0)


def _decision(decision_id: str, request_id: str) -> Decision:
    return Decision(
        id=decision_id,
        request_id=request_id,
        outcome=Outcome.APPROVED,
        account_id="a1",
        display_name="Ann",
        channel="memory",
        comment=None,
        decided_at=T0,
        source="test",
        forward_state=ForwardState.PENDING,
    )


async def test_a_request_round_trips_and_closes_once(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.requests.insert(_request("r1"))
    async with engine.unit() as tx:
        assert await tx.requests.close("r1", RequestStatus.APPROVED, T0, None)
        assert not await tx.requests.close("r1", RequestStatus.REJECTED, T0, None)
    async with engine.snapshot() as tx:
        stored = await tx.requests.find("T-r1")
    assert stored is not None and stored.status is RequestStatus.APPROVED
    assert stored.ticket.ticket_id == "T-r1" and stored.closed_at == T0


async def test_a_second_decision_for_a_request_is_refused_by_the_schema(
    engine: EngineStore,
) -> None:
    async with engine.unit() as tx:
        await tx.requests.insert(_request("r2"))
        await tx.requests.insert_decision(_decision("d1", "r2"))
    with pytest.raises(Conflict):
        async with engine.unit() as tx:
            await tx.requests.insert_decision(_decision("d2", "r2"))
    async with engine.snapshot() as tx:
        stored = await tx.requests.by_decision("d1")
    assert stored is not None and stored.decision is not None and stored.decision.id == "d1"


async def test_first_decision_wins_when_two_transactions_race(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.requests.insert(_request("r3"))
    both_read = asyncio.Barrier(2) if _concurrent(engine) else None

    async def decide(decision_id: str) -> bool:
        async with engine.unit() as tx:
            seen = await tx.requests.get("r3")
            if both_read is not None:  # PostgreSQL: both saw it pending before either closes it
                assert seen is not None and seen.status is RequestStatus.PENDING
                await both_read.wait()
            if not await tx.requests.close("r3", RequestStatus.APPROVED, T0, None):
                return False
            await tx.requests.insert_decision(_decision(decision_id, "r3"))
            return True

    results = await asyncio.gather(decide("dA"), decide("dB"))
    assert sorted(results) == [False, True]
    async with engine.snapshot() as tx:
        stored = await tx.requests.get("r3")
    assert stored is not None and stored.decision is not None
    assert stored.decision.id == ("dA" if results[0] else "dB")


def _concurrent(engine: EngineStore) -> bool:
    # SQLite serialises write transactions (the second waits for the first to commit), so
    # only PostgreSQL can have both inside their transaction at the same moment.
    return type(engine).__name__ == "PostgresStore"


async def test_a_claimed_job_is_leased_then_taken_over_when_the_lease_ends(
    engine: EngineStore,
) -> None:
    async with engine.unit() as tx:
        await tx.outbox.enqueue("send_card", "del-1", T0)
    lease = T0 + timedelta(seconds=30)
    async with engine.unit() as tx:
        first = await tx.outbox.claim("replica-a", T0, lease, 10)
    async with engine.unit() as tx:
        assert await tx.outbox.claim("replica-b", T0 + timedelta(seconds=29), lease, 10) == []
    # replica-a died: once its lease is over, replica-b takes the job.
    later = lease + timedelta(seconds=1)
    async with engine.unit() as tx:
        taken = await tx.outbox.claim("replica-b", later, later + timedelta(seconds=30), 10)
    assert [j.ref for j in first] == ["del-1"] and [j.id for j in taken] == [first[0].id]
    assert taken[0].attempts == 2
    async with engine.unit() as tx:
        await tx.outbox.complete(
            first[0].id, "replica-a"
        )  # the dead owner's late word counts for nothing
    assert await _depth(engine) == {"send_card": 1}
    async with engine.unit() as tx:
        await tx.outbox.complete(taken[0].id, "replica-b")
    assert await _depth(engine) == {}


async def test_claims_running_at_once_share_out_the_jobs(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        for n in range(6):
            await tx.outbox.enqueue("forward_decision", f"d-{n}", T0)
    lease = T0 + timedelta(seconds=30)
    first_claimed, second_done = asyncio.Event(), asyncio.Event()

    async def first() -> list[int]:
        async with engine.unit() as tx:
            claimed = [job.id for job in await tx.outbox.claim("a", T0, lease, 3)]
            first_claimed.set()
            if _concurrent(engine):
                # Hold the claimed rows while the second claims: it must skip them, not wait
                # for this commit (the bound only ends a wait that SKIP LOCKED never starts).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(second_done.wait(), 2)
            return claimed

    async def second() -> list[int]:
        async with engine.unit() as tx:
            claimed = [job.id for job in await tx.outbox.claim("b", T0, lease, 3)]
        second_done.set()
        return claimed

    a = asyncio.create_task(first())
    await first_claimed.wait()  # the first has claimed (and, on PostgreSQL, holds its rows)
    b = await second()
    assert len(await a) == len(b) == 3 and not set(await a) & set(b)
    assert second_done.is_set()


async def test_a_released_lease_is_claimable_at_once_and_lanes_filter_by_kind(
    engine: EngineStore,
) -> None:
    async with engine.unit() as tx:
        await tx.outbox.enqueue("send_card", "del-1", T0)
        await tx.outbox.enqueue("forward_decision", "d-1", T0)
    lease = T0 + timedelta(seconds=30)
    async with engine.unit() as tx:
        sends = await tx.outbox.claim("a", T0, lease, 10, kinds=("send_card",))
        assert await tx.outbox.release("a") == 1
    async with engine.unit() as tx:
        others = await tx.outbox.claim(
            "b", T0, lease, 10, kinds=("forward_decision", "update_card")
        )
        again = await tx.outbox.claim("b", T0, lease, 10, kinds=("send_card",))
    assert [j.kind for j in sends] == ["send_card"] and [j.kind for j in others] == [
        "forward_decision"
    ]
    assert [j.id for j in again] == [sends[0].id]


async def test_a_rescheduled_job_waits_and_a_buried_one_is_gone(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.outbox.enqueue("update_card", "del-1", T0)
        await tx.outbox.enqueue("update_card", "del-2", T0)
    lease = T0 + timedelta(seconds=30)
    async with engine.unit() as tx:
        one, two = await tx.outbox.claim("a", T0, lease, 10)
        await tx.outbox.reschedule(one.id, "a", T0 + timedelta(minutes=5), "busy")
        await tx.outbox.bury(two.id, "a", "gave up")
    async with engine.unit() as tx:
        assert await tx.outbox.claim("b", T0 + timedelta(minutes=1), lease, 10) == []
        retried = await tx.outbox.claim("b", T0 + timedelta(minutes=5), lease, 10)
    assert [(j.id, j.last_error) for j in retried] == [(one.id, "busy")]


async def test_deliveries_keep_their_history_and_a_revoke_finds_the_queued_ones(
    engine: EngineStore,
) -> None:
    delivery = Delivery(
        id="del-q",
        request_id="r4",
        account_id="a1",
        channel="lark",
        address="ou_1",
        state=DeliveryState.QUEUED,
        created_at=T0,
        updated_at=T0,
        history=(DeliveryEvent(at=T0, state=DeliveryState.QUEUED, detail="routed"),),
    )
    request = _request("r4")
    async with engine.unit() as tx:
        await tx.requests.insert(request)
        await tx.deliveries.insert(delivery)
        await tx.outbox.enqueue("send_card", "del-q", T0 + timedelta(hours=1))  # waits for consent
        assert await tx.deliveries.state("del-q") is DeliveryState.QUEUED
        assert await tx.deliveries.on_channel("lark", DeliveryState.QUEUED) == ["del-q"]
        assert await tx.deliveries.on_channel("dingtalk", DeliveryState.QUEUED) == []
        await tx.outbox.wake_channel("lark", ("send_card", "update_card"), T0)
    async with engine.unit() as tx:
        woken = await tx.outbox.claim("a", T0, T0 + timedelta(seconds=30), 10)
        await tx.deliveries.set_state("del-q", DeliveryState.SENT, T0, "sent", external_ref="m1")
    assert [j.ref for j in woken] == ["del-q"]
    async with engine.snapshot() as tx:
        stored = await tx.deliveries.get("del-q")
        assert await tx.deliveries.state("del-q") is DeliveryState.SENT
        assert await tx.deliveries.request_of("del-q") == "r4"
        before = await tx.requests.due_for_expiry(
            request.ticket.expires_at - timedelta(seconds=1), 10
        )
        due = await tx.requests.due_for_expiry(request.ticket.expires_at, 10)
    assert stored is not None and stored.external_ref == "m1"
    assert [e.state for e in stored.history] == [DeliveryState.QUEUED, DeliveryState.SENT]
    assert before == [] and due == ["r4"]


def _card(delivery_id: str, account: str, details: list[str]) -> Delivery:
    states = [DeliveryState.QUEUED, DeliveryState.UNREACHABLE, DeliveryState.QUEUED]
    return Delivery(
        id=delivery_id,
        request_id="r5",
        account_id=account,
        channel="lark",
        address=None,
        state=DeliveryState.QUEUED,
        created_at=T0,
        updated_at=T0,
        history=tuple(
            DeliveryEvent(at=T0 + timedelta(seconds=i), state=states[i % 3], detail=detail)
            for i, detail in enumerate(details)
        ),
    )


async def test_a_request_with_many_approvers_reads_back_every_delivery_event_and_its_decision(
    engine: EngineStore,
) -> None:
    details = ["routed", "", 'it\'s "quoted"; {json: [1]}', "审批 ✓", "\\n not a newline"]
    cards = [_card(f"del-{i:02}", f"a{i}", details[: 1 + i % len(details)]) for i in range(12)]
    async with engine.unit() as tx:
        await tx.requests.insert(_request("r5"))
        for card in cards:
            await tx.deliveries.insert(card)
        await tx.deliveries.set_state(
            "del-03", DeliveryState.FAILED, T0 + timedelta(minutes=1), "no", reason="gone"
        )
        await tx.deliveries.set_state("del-03", DeliveryState.QUEUED, T0 + timedelta(minutes=2))
        await tx.requests.insert_decision(_decision("d5", "r5"))
        await tx.requests.set_forward_state("d5", ForwardState.FORWARDED, T0, "202")
    async with engine.snapshot() as tx:
        stored = await tx.requests.get("r5")
        by_ticket = await tx.requests.find("T-r5")
        by_decision = await tx.requests.by_decision("d5")
    assert stored is not None and stored == by_ticket == by_decision
    assert stored.decision == _decision("d5", "r5").model_copy(
        update={
            "forward_state": ForwardState.FORWARDED,
            "forward_detail": "202",
            "forwarded_at": T0,
        }
    )
    assert [d.id for d in stored.deliveries] == [c.id for c in cards]
    assert [d.history for d in stored.deliveries if d.id != "del-03"] == [
        c.history for c in cards if c.id != "del-03"
    ]
    changed = next(d for d in stored.deliveries if d.id == "del-03")
    assert changed.history == (
        *cards[3].history,
        DeliveryEvent(at=T0 + timedelta(minutes=1), state=DeliveryState.FAILED, detail="no"),
        DeliveryEvent(at=T0 + timedelta(minutes=2), state=DeliveryState.QUEUED, detail=""),
    )
    assert changed.state is DeliveryState.QUEUED and changed.reason == "gone"  # kept


async def test_a_state_change_of_an_unknown_delivery_is_refused_and_writes_no_event(
    engine: EngineStore,
) -> None:
    async with engine.unit() as tx:
        await tx.requests.insert(_request("r6"))
        with pytest.raises(StoreError):
            await tx.deliveries.set_state("nowhere", DeliveryState.SENT, T0, "sent")
        assert await tx.deliveries.get("nowhere") is None
        assert await tx.deliveries.state("nowhere") is None
        assert await tx.deliveries.request_of("nowhere") is None


async def _depth(engine: EngineStore) -> dict[str, int]:
    return (await StoreProbe(engine).gauges()).outbox


async def test_timing_steps_are_one_per_key_and_a_close_cancels_only_its_own(
    engine: EngineStore,
) -> None:
    async with engine.unit() as tx:
        for ref in ("r1/reminder:1:a1", "r1/reminder:2:a1", "r10/reminder:1:a1"):
            await tx.outbox.enqueue("timing_step", ref, T0 + timedelta(minutes=10))
    with pytest.raises(Conflict):  # the same step of the same request twice
        async with engine.unit() as tx:
            await tx.outbox.enqueue("timing_step", "r1/reminder:1:a1", T0)
    async with engine.unit() as tx:
        assert await tx.outbox.cancel_steps("r1", T0) == 2
    async with engine.unit() as tx:
        due = await tx.outbox.claim("w", T0 + timedelta(hours=1), T0 + timedelta(hours=2), 10)
    assert [job.ref for job in due] == ["r10/reminder:1:a1"]  # "r10" is not "r1"
