"""What a state change costs on PostgreSQL in round trips (each statement is one): a delivery
with its whole history is one statement, its new state with the event is one, reading it with
its history is one, reading its request with the decision, the deliveries and their histories
is one, and a transaction is BEGIN, its statements and COMMIT, with no reset after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asyncpg.connection import LoggedQuery

from bot.core.intake import ApprovalRequest
from bot.core.limits import Budget
from bot.core.models import Delivery, DeliveryEvent, DeliveryState, RequestStatus, StoredRequest
from bot.core.ports import SignedAnswer
from bot.errors import Conflict
from bot.store.postgres import PostgresStore
from bot.store.postgres.limits import PostgresRateLimits
from bot.store.postgres.tx import PostgresTx
from bot.store.repos.unit import EngineUnit
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _delivery(events: int) -> Delivery:
    return Delivery(
        id="del-1",
        request_id="r1",
        account_id="a1",
        channel="lark",
        address="ou_1",
        state=DeliveryState.QUEUED,
        created_at=T0,
        updated_at=T0,
        history=tuple(
            DeliveryEvent(at=T0 + timedelta(seconds=i), state=DeliveryState.QUEUED, detail=str(i))
            for i in range(events)
        ),
    )


async def test_a_delivery_its_state_changes_and_its_read_cost_one_statement_each(
    pg_url: str,
) -> None:
    ticket = ApprovalRequest.model_validate(sample_ticket("T-r1", [approver("a1", "Ann")]))
    request = StoredRequest(id="r1", ticket=ticket, status=RequestStatus.PENDING, created_at=T0)
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    sent: list[str] = []
    try:
        async with store.unit() as tx:
            await tx.requests.insert(request)
        async with store.write() as raw:
            assert isinstance(raw, PostgresTx)

            def log(record: LoggedQuery) -> None:
                sent.append(" ".join(record.query.split())[:30])

            raw.conn.add_query_logger(log)
            uow = EngineUnit(raw)
            await uow.deliveries.insert(_delivery(events=3))
            await uow.deliveries.set_state("del-1", DeliveryState.SENT, T0, "sent")
            stored = await uow.deliveries.get("del-1")
            whole = await uow.requests.get("r1")
        # The pool's one connection is back: a reset would have been sent by now.
        async with store.read() as raw:
            assert isinstance(raw, PostgresTx)
            raw.conn.remove_query_logger(log)
        await asyncio.sleep(0)  # the driver calls its loggers on the next turn of the loop
    finally:
        await store.close()
    assert stored is not None and [e.detail for e in stored.history] == ["0", "1", "2", "sent"]
    assert whole is not None and whole.deliveries == (stored,) and whole.decision is None
    # The four statements, COMMIT, then the read's BEGIN (the logger is gone before its COMMIT).
    assert len(sent) == 6, sent
    assert sent[4] == "COMMIT;" and sent[5].startswith("BEGIN"), sent


async def test_a_rate_reservation_is_one_statement_outside_any_transaction(pg_url: str) -> None:
    # The budget rows are held only while that statement runs: a replica stalled between round
    # trips (a busy host) cannot hold every other replica's calls to the same API.
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    sent: list[str] = []

    def log(record: LoggedQuery) -> None:
        sent.append(" ".join(record.query.split())[:40])

    try:
        limits = PostgresRateLimits(store)
        app, ann = Budget("lark:app:api:create", 50.0), Budget("lark:app:user:ann", 5.0)
        await limits.reserve(app, within=1.0)  # the driver learns the argument types once
        async with store.read() as tx:  # the pool's one connection, to watch after its release
            assert isinstance(tx, PostgresTx)
            conn = tx.conn._con  # the connection behind the pool's proxy
        conn.add_query_logger(log)
        grants = [await limits.reserve(app, [ann], within=1.0) for _ in range(2)]
        await asyncio.sleep(0)  # the driver calls its loggers on the next turn of the loop
        conn.remove_query_logger(log)
    finally:
        await store.close()
    assert [g.granted for g in grants] == [True, False]  # ann's budget holds the second
    assert sent == ["SELECT granted, wait, at FROM reserve_bu"] * 2, sent


async def test_deferred_writes_go_together_before_the_next_statement_and_keep_their_values(
    pg_url: str,
) -> None:
    # A job, an audit line and a kept answer (bytes, an integer, a NULL) are held, then sent as
    # one statement before the read that follows: the read sees them, each value as written.
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    sent: list[str] = []

    def log(record: LoggedQuery) -> None:
        sent.append(" ".join(record.query.split())[:24])

    answer = SignedAnswer(
        request_hash="h", status=409, content_type=None, key_id="k1", body=b"\x00sealed\xff"
    )
    try:
        async with store.write() as raw:
            assert isinstance(raw, PostgresTx)
            raw.conn.add_query_logger(log)
            uow = EngineUnit(raw)
            await uow.outbox.enqueue("update_card", "del-1", T0, '{"it\'s": 1}')
            await uow.ledger.audit(T0, "ann", "vote.approved", "T-1", "stage 1", "test")
            await uow.answers.keep("req-1", answer, T0, T0 + timedelta(days=1))
            recalled = await uow.answers.recall("req-1")
            jobs = await uow.outbox.claim("me", T0, T0 + timedelta(minutes=1), 10)
        await asyncio.sleep(0)  # the driver calls its loggers on the next turn of the loop
    finally:
        await store.close()
    assert recalled == answer
    assert [(j.kind, j.ref, j.payload) for j in jobs] == [("update_card", "del-1", {"it's": 1})]
    # The held writes in one statement, then the recall, the claim and COMMIT.
    assert sent[0] == "SELECT apply_writes(CAST" and len(sent) == 4, sent


async def test_a_deferred_write_that_fails_fails_its_transaction(pg_url: str) -> None:
    # Sent at the commit, the failing write (a second delivery with the same id) is refused as
    # its own statement would be, and stops the commit: nothing of the unit is kept.
    ticket = ApprovalRequest.model_validate(sample_ticket("T-r1", [approver("a1", "Ann")]))
    request = StoredRequest(id="r1", ticket=ticket, status=RequestStatus.PENDING, created_at=T0)
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    try:
        with pytest.raises(Conflict):
            async with store.unit() as uow:
                await uow.requests.insert(request)
                await uow.outbox.enqueue("update_card", "del-1", T0)
                await uow.deliveries.insert(_delivery(events=1).model_copy(update={"id": "x"}))
                await uow.deliveries.insert(_delivery(events=1).model_copy(update={"id": "x"}))
        async with store.snapshot() as uow:
            assert await uow.requests.get("r1") is None
            assert await uow.outbox.of_request("r1") == []
            assert await uow.deliveries.get("x") is None
    finally:
        await store.close()


class _Undo(Exception):
    pass


async def test_held_writes_run_as_statements_prepared_once_per_session(pg_url: str) -> None:
    # A held write is prepared on its first use in the session and run prepared after that
    # (its plan kept). A first use rolled back forgets the session's note of it but not the
    # statement, which the next use finds and runs: the job of the unit rolled back is gone,
    # the two after it are kept.
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    try:
        with pytest.raises(_Undo):
            async with store.write() as raw:
                await EngineUnit(raw).outbox.enqueue("update_card", "del-0", T0)
                await raw.fetch_one("SELECT 1")  # sends the held write
                raise _Undo
        for ref in ("del-1", "del-2"):
            async with store.unit() as uow:
                await uow.outbox.enqueue("update_card", ref, T0)
        async with store.write() as raw:
            assert isinstance(raw, PostgresTx)
            jobs = await EngineUnit(raw).outbox.claim("me", T0, T0 + timedelta(minutes=1), 10)
            prepared = await raw.conn.fetch(
                "SELECT name FROM pg_prepared_statements WHERE name LIKE 'aw\\_%'"
            )
    finally:
        await store.close()
    assert sorted(j.ref for j in jobs) == ["del-1", "del-2"]
    assert len(prepared) == 1, prepared  # one text, one statement
