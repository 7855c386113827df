"""The counts behind ``/metrics`` (requests by status, deliveries by channel and state, pending
outbox jobs by kind, messages by channel and kind) are kept as rows change, not counted at scrape
time; after any set of changes they agree with the tables they count, on every engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.intake import ApprovalRequest
from bot.core.models import Delivery, DeliveryState, RequestStatus, StoredRequest
from bot.core.storage import StoreGauges
from bot.store.engine import EngineStore
from bot.store.probe import StoreProbe
from bot.store.usage import UsageStore
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# What the counts must equal: the tables, counted (the same text on both engines).
TRUTH = {
    "requests": "SELECT status AS k, COUNT(*) AS n FROM requests GROUP BY status",
    "deliveries": "SELECT channel, state, COUNT(*) AS n FROM deliveries GROUP BY channel, state",
    "outbox": "SELECT kind AS k, COUNT(*) AS n FROM outbox WHERE state = 'pending' GROUP BY kind",
    "usage": "SELECT channel, kind, SUM(count) AS n FROM usage GROUP BY channel, kind",
}


async def _truth(engine: EngineStore) -> dict[str, dict[Any, int]]:
    async with engine.read() as tx:
        rows = {name: await tx.fetch_all(sql) for name, sql in TRUTH.items()}
    return {
        "requests": {r["k"]: int(r["n"]) for r in rows["requests"]},
        "deliveries": {(r["channel"], r["state"]): int(r["n"]) for r in rows["deliveries"]},
        "outbox": {r["k"]: int(r["n"]) for r in rows["outbox"]},
        "usage": {(r["channel"], r["kind"]): int(r["n"]) for r in rows["usage"]},
    }


async def _kept(engine: EngineStore) -> dict[str, dict[Any, int]]:
    gauges: StoreGauges = await StoreProbe(engine).gauges()
    return {
        "requests": gauges.requests,
        "deliveries": gauges.deliveries,
        "outbox": gauges.outbox,
        "usage": await UsageStore(engine).totals(),
    }


def _request(request_id: str) -> StoredRequest:
    ticket = ApprovalRequest.model_validate(
        sample_ticket(f"T-{request_id}", [approver("a1", "Ann"), approver("a2", "Bob")])
    )
    return StoredRequest(id=request_id, ticket=ticket, status=RequestStatus.PENDING, created_at=T0)


def _delivery(request_id: str, account: str, channel: str) -> Delivery:
    return Delivery(
        id=f"{request_id}-{account}",
        request_id=request_id,
        account_id=account,
        channel=channel,
        address=f"addr-{account}",
        state=DeliveryState.QUEUED,
        created_at=T0,
        updated_at=T0,
    )


async def _submit(engine: EngineStore, request_id: str) -> None:
    async with engine.unit() as tx:
        await tx.requests.insert(_request(request_id))
        for account, channel in (("a1", "lark"), ("a2", "dingtalk")):
            await tx.deliveries.insert(_delivery(request_id, account, channel))
            await tx.outbox.enqueue("send_card", f"{request_id}-{account}", T0)


async def _work(engine: EngineStore, owner: str) -> None:
    """One replica's share of the outbox: sends, retries, a dead job, usage metered."""
    later = T0 + timedelta(minutes=1)
    async with engine.unit() as tx:
        jobs = await tx.outbox.claim(owner, T0, later, 3)
    for i, job in enumerate(jobs):
        async with engine.unit() as tx:
            if i == 0:
                await tx.outbox.reschedule(job.id, owner, later, "throttled")
                continue
            if i == 1:
                await tx.outbox.bury(job.id, owner, "gave up")
                await tx.deliveries.set_state(job.ref, DeliveryState.FAILED, T0, reason="gone")
                continue
            await tx.outbox.complete(job.id, owner)
            await tx.deliveries.set_state(job.ref, DeliveryState.SENT, T0)
            await tx.ledger.meter("lark", "a1", "sent", T0)


async def test_the_counts_agree_with_the_tables_after_every_kind_of_change(
    engine: EngineStore,
) -> None:
    for i in range(4):
        await _submit(engine, f"r{i}")
    assert await _kept(engine) == await _truth(engine)  # (PostgreSQL: folds the deltas here)
    # Replicas (or one gateway's lanes) change rows side by side.
    await asyncio.gather(*(_work(engine, f"owner-{i}") for i in range(2)))
    async with engine.unit() as tx:
        assert await tx.requests.close("r0", RequestStatus.APPROVED, T0, None)
        assert await tx.requests.close("r1", RequestStatus.EXPIRED, T0, "expired")
        await tx.outbox.enqueue("forward_decision", "d-r0", T0)
        await tx.deliveries.set_state("r0-a2", DeliveryState.UPDATED, T0)
        await tx.ledger.meter("lark", "a1", "updated", T0)
        await tx.ledger.meter("dingtalk", "a2", "sent", T0 + timedelta(days=1))
    async with engine.unit() as tx:
        await tx.outbox.release("owner-0")
    truth = await _truth(engine)
    assert truth["requests"] == {"pending": 2, "approved": 1, "expired": 1}  # the changes landed
    assert truth["outbox"]["send_card"] > 0 and truth["usage"][("lark", "sent")] == 2
    assert await _kept(engine) == truth
    assert await _kept(engine) == truth  # a second scrape (nothing left to fold) reads the same
