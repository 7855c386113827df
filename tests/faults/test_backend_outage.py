"""The ticket backend down, then hanging, then answering 503, then back.

Through each phase approvers decide requests and new requests come in: every decision reaches
the backend once it is back, each under one stable event id across all its attempts, and every
new request's card goes out while the backend is still failing (the forwards have their own lane).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]
DECISIONS_PER_PHASE = 3


async def _card(embedded: Embedded, ticket_id: str) -> str:
    """Submit a one-approver request and return its delivery once the card is on the phone."""
    _, backend, memory = parts(embedded)
    status, receipt = await backend.submit(sample_ticket(ticket_id, [approver("ann", "Ann")]))
    assert status == 202, receipt
    delivery = str(receipt["deliveries"][0]["delivery_id"])
    await asyncio.wait_for(memory.wait_for(delivery), 10)
    return delivery


async def _phase(embedded: Embedded, name: str, failing: Callable[[], Awaitable[bool]]) -> None:
    """Decide a few requests and take in a new one while the backend fails as ``failing`` says."""
    _, backend, memory = parts(embedded)
    for i in range(DECISIONS_PER_PHASE):
        delivery = await _card(embedded, f"T-{name}-{i}")
        await memory.click("ann", delivery, ClickAction.APPROVE)
    await eventually(failing)  # the forwards of this phase meet the fault
    await _card(embedded, f"T-{name}-new")
    assert await failing(), f"{name}: the backend recovered before the new card went out"
    assert not [d for d in backend.decisions if d.ticket_id.startswith(f"T-{name}-")]


async def test_decisions_survive_a_backend_down_hanging_503_and_back(tmp_path: Path) -> None:
    # Attempts time out fast while the backend hangs; retries follow the fast test backoff.
    embedded = await start(fast_settings(tmp_path / "data", backend_timeout_seconds=0.5))
    _, backend, _ = parts(embedded)
    port = backend.port
    try:
        await backend.stop()  # down: connection refused
        await _phase(embedded, "DOWN", _no_attempt_answered(backend))
        await backend.start(port)
        backend.hang()  # up, but nothing is ever answered
        await _phase(embedded, "HANG", _hanging(backend))
        backend.faults.fail_next = 1_000_000  # every webhook gets a 503
        backend.release()
        await _phase(embedded, "503", _refused(backend, "T-503-"))
        backend.faults.fail_next = 0  # back
        tickets = [f"T-{p}-{i}" for p in ("DOWN", "HANG", "503") for i in range(3)]
        for ticket_id in tickets:
            await backend.wait_for_decision(ticket_id, within=20)
    finally:
        await embedded.stop()
    _check_stable_ids(backend, tickets)


def _no_attempt_answered(backend: SandboxBackend) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not backend.attempts

    return probe


def _hanging(backend: SandboxBackend) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return backend.hanging > 0

    return probe


def _refused(backend: SandboxBackend, prefix: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        refused = {a.ticket_id for a in backend.attempts if a.status == 503}
        return {f"{prefix}{i}" for i in range(DECISIONS_PER_PHASE)} <= refused

    return probe


def _check_stable_ids(backend: SandboxBackend, tickets: list[str]) -> None:
    decided = {d.ticket_id: d.webhook_id for d in backend.decisions}
    assert sorted(decided) == sorted(tickets)  # each once (the backend keys them by event id)
    assert len(backend.decisions) == len(tickets)
    for ticket_id, event_id in decided.items():
        seen = {a.webhook_id for a in backend.attempts if a.ticket_id == ticket_id}
        assert seen == {event_id}, (ticket_id, seen)  # every attempt carried the same event id
    assert decided["T-503-0"] and [a for a in backend.attempts if a.status == 503]
