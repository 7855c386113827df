"""What one signed submission costs the store, counted in statements (a count, never a time).

The unit of work of ``POST /v1/approvals`` (``bot.http.once.signed_write``): claim the request
id, ``ApprovalService.submit``, keep the answer. On PostgreSQL each statement is a round trip,
and the transaction adds its BEGIN and COMMIT. A new statement on this path fails here: cut one
elsewhere or raise the count on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncpg.connection import LoggedQuery

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.ports import SignedAnswer
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.postgres.tx import PostgresTx
from bot.store.repos.unit import EngineUnit
from bot.store.sqlite.tx import SqliteTx
from bot.store.tx import EngineTx
from sandbox.tickets import approver, sample_ticket
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHANNELS = ("dingtalk", "lark", "email", "memory")  # the bench's order: routing reads them all
# claim, insert request, the routes (the delegations and every approver's route facts, one
# read), keep; then per approver the delivery with its first event and its card's job (SQLite:
# three statements). On PostgreSQL the deliveries and the kept answer are deferred writes
# (bot/store/postgres/tx.py): they go together, as one apply_writes, before the COMMIT. (Before:
# 4 + 4 per approver on SQLite, 4 + 2 per approver on PostgreSQL.)
FIXED = {"sqlite": 4, "postgresql": 4}
PER_APPROVER = {"sqlite": 3, "postgresql": 0}


def _watch(monkeypatch: pytest.MonkeyPatch, kind: type[EngineTx], sent: list[str]) -> None:
    # Every statement the engine's transactions send (a deferred write is sent by the flush
    # that carries it: on SQLite at once, through execute).
    for primitive in ("execute", "fetch_all", "fetch_one"):
        original: Callable[..., Awaitable[Any]] = getattr(kind, primitive)

        async def watched(self: EngineTx, sql: str, params: Any = (), _run: Any = original) -> Any:
            sent.append(sql)
            return await _run(self, sql, params)

        monkeypatch.setattr(kind, primitive, watched)


class _Wakeups:
    def notify(self, *kinds: str) -> None:
        pass


def _ticket(ticket_id: str, approvers: int) -> ApprovalRequest:
    people = [approver(f"a{i}", f"Approver {i}") for i in range(approvers)]
    return ApprovalRequest.model_validate(sample_ticket(ticket_id, people))


async def _submit(store: EngineStore, ticket: ApprovalRequest, tx: EngineTx) -> None:
    clock = MovableClock(T0)
    router = Router({name: MemoryChannel(name) for name in CHANNELS}, CHANNELS)
    service = ApprovalService(store, clock, router, _Wakeups())
    uow = EngineUnit(tx)
    request_id, until = f"req-{ticket.ticket_id}", T0 + timedelta(days=1)
    assert await uow.answers.claim(request_id, "hash", T0, until)
    await service.submit(ticket, uow)
    answer = SignedAnswer(
        request_hash="hash", status=202, content_type=None, key_id=None, body=None
    )
    await uow.answers.keep(request_id, answer, T0, until)


async def test_a_submission_costs_a_fixed_count_of_statements_per_approver(
    engine: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = "postgresql" if isinstance(engine, PostgresStore) else "sqlite"
    sent: list[str] = []
    _watch(monkeypatch, PostgresTx if kind == "postgresql" else SqliteTx, sent)
    for approvers in (1, 3):
        sent.clear()
        async with engine.write() as tx:
            await _submit(engine, _ticket(f"T-{approvers}", approvers), tx)
        assert len(sent) == FIXED[kind] + PER_APPROVER[kind] * approvers, sent


async def test_a_submission_on_postgresql_is_its_statements_begin_and_commit(
    pg_url: str,
) -> None:
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    sent: list[str] = []

    def log(record: LoggedQuery) -> None:
        sent.append(" ".join(record.query.split())[:30])

    try:
        async with store.write() as tx:
            assert isinstance(tx, PostgresTx)
            tx.conn.add_query_logger(log)
            await _submit(store, _ticket("T-pg", 1), tx)
        async with store.read() as tx:  # the pool's one connection again
            assert isinstance(tx, PostgresTx)
            tx.conn.remove_query_logger(log)
        await asyncio.sleep(0)  # the driver calls its loggers on the next turn of the loop
    finally:
        await store.close()
    # Logged from the first statement: the statements, COMMIT, then the read's BEGIN.
    assert len(sent) == FIXED["postgresql"] + PER_APPROVER["postgresql"] + 2, sent
    assert sent[-2] == "COMMIT;", sent
