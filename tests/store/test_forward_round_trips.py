"""What forwarding a decision costs the store, on each engine, and that it still forwards each
decision once.

A first attempt sends the event its job carries (built by the click that decided: no read),
and the forwards that come back together are recorded with their jobs' completions in one
unit, whose writes are deferred: on PostgreSQL one ``apply_writes`` round trip (with BEGIN and
COMMIT) for them all. Before, each forward read its decision in a snapshot of its own (two
statements, four round trips with BEGIN and COMMIT), was recorded in a unit (one statement per
forward) and then completed in another (one more each). A retried attempt reads the decision,
the retries that start together in one snapshot, and skips one already recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.jobs import JobRunner
from bot.core.models import ClickAction, ForwardState, InboundAction, Job
from bot.core.ports import BackendReceipt, DecisionEvent
from bot.core.route_planner import Router
from bot.core.service import FORWARD_DECISION, ApprovalService
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.postgres.tx import PostgresTx
from bot.store.sqlite.tx import SqliteTx
from bot.store.tx import EngineTx
from sandbox.tickets import approver, sample_ticket
from tests.store.statements import watch
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FORWARDS = 3
LEASE = timedelta(seconds=30)
# Per engine: the statements sent, and the writes deferred among them, for FORWARDS forwards.
RECORDED = ["set_forward_state", "complete"] * FORWARDS
FIRST = {"postgresql": ["apply_writes"], "sqlite": RECORDED}
# On PostgreSQL the request's cards and decision come with it; SQLite reads them apart.
CARDS = ["deliveries_of_request", "events_of_deliveries", "decision_of_request"]
RETRIED = {
    "postgresql": ["get_request_by_decision", "votes_of_request"] * FORWARDS,
    "sqlite": ["get_request_by_decision", *CARDS, "votes_of_request"] * FORWARDS,
}


class Backend:
    """The ticket backend: what it was sent."""

    def __init__(self) -> None:
        self.events: list[DecisionEvent] = []

    async def deliver(self, event: DecisionEvent) -> BackendReceipt:
        self.events.append(event)
        return BackendReceipt(status=200)


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        return None


def _ticket(i: int) -> ApprovalRequest:
    return ApprovalRequest.model_validate(sample_ticket(f"T-F{i}", [approver(f"f{i}", "F")]))


async def _decided(engine: EngineStore, backend: Backend) -> tuple[JobRunner, list[Job]]:
    # FORWARDS requests decided by their one approver; their forward jobs claimed together.
    clock, memory = MovableClock(T0), MemoryChannel()
    service = ApprovalService(engine, clock, Router({"memory": memory}, ["memory"]), NoWakeup())
    runner = JobRunner(engine, clock, {"memory": memory}, backend, service)
    for i in range(FORWARDS):
        receipt = await service.submit(_ticket(i))
        click = InboundAction(
            channel="memory",
            actor=f"f{i}",
            ref=receipt.deliveries[0].delivery_id,
            action=ClickAction.APPROVE,
            source="test",
        )
        await service.handle_action(click)
    async with engine.unit() as uow:
        jobs = await uow.outbox.claim("w1", T0, T0 + LEASE, 10, kinds=(FORWARD_DECISION,))
    return runner, jobs


def _engine(engine: EngineStore) -> tuple[str, type[EngineTx]]:
    if isinstance(engine, PostgresStore):
        return "postgresql", PostgresTx
    return "sqlite", SqliteTx


async def _pending(engine: EngineStore) -> int:
    async with engine.unit() as uow:
        due = await uow.outbox.claim(
            "w2", T0 + LEASE, T0 + 2 * LEASE, 10, kinds=(FORWARD_DECISION,)
        )
        return len(due)


async def test_first_attempts_send_the_carried_event_and_record_with_their_completion(
    engine: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = Backend()
    runner, jobs = await _decided(engine, backend)
    name, kind = _engine(engine)
    sent: list[str] = []
    held: list[str] = []
    watch(monkeypatch, kind, sent, held)
    done = await asyncio.gather(*(runner.run(job) for job in jobs))
    monkeypatch.undo()
    assert done == [True] * FORWARDS  # completed with the record: the worker writes nothing
    assert (sent, held) == (FIRST[name], RECORDED)
    assert sorted(e.ticket_id for e in backend.events) == [f"T-F{i}" for i in range(FORWARDS)]
    assert all(len(e.votes) == 1 and e.votes[0].outcome == "approved" for e in backend.events)
    assert await _pending(engine) == 0  # even with every lease run out: nothing left to send
    for i in range(FORWARDS):
        request = await ApprovalService(engine, MovableClock(T0), Router({}, []), NoWakeup()).get(
            f"T-F{i}"
        )
        assert request.decision is not None
        assert request.decision.forward_state is ForwardState.FORWARDED


async def test_retried_attempts_read_together_and_skip_what_was_forwarded(
    engine: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same jobs on a second claim (a lease that ran out after the first attempt recorded
    # its forward): each reads the decision as stored, in one snapshot, and sends nothing.
    backend = Backend()
    runner, jobs = await _decided(engine, backend)
    await asyncio.gather(*(runner.run(job) for job in jobs))
    again = [job.model_copy(update={"attempts": 2}) for job in jobs]
    name, kind = _engine(engine)
    sent: list[str] = []
    held: list[str] = []
    watch(monkeypatch, kind, sent, held)
    done = await asyncio.gather(*(runner.run(job) for job in again))
    monkeypatch.undo()
    assert done == [False] * FORWARDS  # nothing recorded: the worker completes them
    assert (sent, held) == (RETRIED[name], [])
    assert len(backend.events) == FORWARDS  # each decision sent once


async def test_a_retried_attempt_sends_the_stored_decision_when_still_pending(
    engine: EngineStore,
) -> None:
    # A first attempt that failed before the backend took it: the retry reads the decision
    # (still pending) and sends the same event, with the same id.
    backend = Backend()
    runner, jobs = await _decided(engine, backend)
    retried = jobs[0].model_copy(update={"attempts": 2})
    assert await runner.run(retried) is True
    carried = DecisionEvent.model_validate(jobs[0].payload["event"])
    assert backend.events == [carried]
