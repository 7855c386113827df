"""Two approvers of an all-of request tap at the same moment, on two services over one store
(two replicas): both votes are counted and the outcome is decided exactly once, on each engine.
On PostgreSQL both clicks reach the request's lock together before either takes it; SQLite runs
one write transaction at a time, so there they simply race for the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.models import ActionStatus, ClickAction, InboundAction
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.repos.requests import RequestRows
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        return None


def _ticket() -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "ticket_id": "T-BOTH",
            "title": "Add an index to orders",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "approvers": [
                {"account_id": a, "display_name": n, "account_type": "main"}
                for a, n in (("a1", "Ann"), ("a2", "Bob"))
            ],
            "policy": {"rule": "all"},
            "console_url": "https://dms.example.com/tickets/T-BOTH",
            "expires_at": (T0 + timedelta(hours=1)).isoformat(),
        }
    )


def _arrive_together(monkeypatch: pytest.MonkeyPatch) -> None:
    barrier = asyncio.Barrier(2)
    original: Callable[..., Awaitable[Any]] = RequestRows.for_vote

    async def for_vote(self: RequestRows, delivery_id: str, channel: Any = None) -> Any:
        await asyncio.wait_for(barrier.wait(), 10)
        return await original(self, delivery_id, channel)

    monkeypatch.setattr(RequestRows, "for_vote", for_vote)


async def test_two_votes_at_once_are_both_counted_and_decide_once(
    engine: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MovableClock(T0)
    router = Router({"memory": MemoryChannel()}, ["memory"])
    a, b = (ApprovalService(engine, clock, router, NoWakeup()) for _ in range(2))
    await a.submit(_ticket())
    request = await a.get("T-BOTH")
    clicks: list[Any] = [
        InboundAction(
            channel="memory", actor=d.account_id, ref=d.id, action=ClickAction.APPROVE, source="t"
        )
        for d in sorted(request.deliveries, key=lambda d: d.account_id)
    ]
    if isinstance(engine, PostgresStore):
        _arrive_together(monkeypatch)
    results = await asyncio.gather(a.handle_action(clicks[0]), b.handle_action(clicks[1]))
    assert sorted(r.status.value for r in results) == ["decided", "voted"]
    decided = await a.get("T-BOTH")
    assert decided.status.value == "approved" and decided.decision is not None
    assert sorted(v.account_id for v in decided.votes) == ["a1", "a2"]
    winner = next(r for r in results if r.status is ActionStatus.DECIDED)
    assert winner.delivery is not None
    assert decided.decision.account_id == winner.delivery.account_id
