"""Correctness under load: a burst of requests through the real Lark SDK against the sandbox
Lark enforcing the platform's limits (50 calls/s per app and API, 5 sends/s per user).

Nothing is dropped, nothing doubled: every approver holds exactly one card per request, every
click is decided, and every decision reaches the backend once. How fast is ``scripts/bench``'s
business, not this test's.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.core.models import ClickAction
from bot.settings.config import OutboxSettings
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.lark.sandbox import LarkSandbox
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import FAST_OUTBOX, fast_settings
from tests.gateway.helpers import eventually

# The cards queue behind the platform's limits for a while: bounded, but longer than the default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# The production lease: with the suite's 2 s lease a forward still in flight behind a busy
# store is claimed again, and the webhook goes out twice (the backend de-duplicates it).
OUTBOX = OutboxSettings(**{**FAST_OUTBOX.model_dump(), "lease_seconds": 30})
REQUESTS = 200
USERS = 20
# Every fourth request has a second approver: each approver gets a card, one of them decides.
IN_FLIGHT = 32  # concurrent submits and clicks, like a busy backend and office
T = TypeVar("T")


async def _all(calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


def _lark(embedded: Embedded) -> tuple[LarkPlatform, LarkSandbox]:
    platform = embedded.platform_of("lark")
    assert isinstance(platform, LarkPlatform)
    return platform, platform.app()


def _approvers(i: int) -> list[dict[str, str]]:
    count = 2 if i % 4 == 0 else 1
    return [
        approver(f"u{(i + k) % USERS}", f"User {(i + k) % USERS}", region="sg")
        for k in range(count)
    ]


async def _submit(backend: SandboxBackend) -> list[dict[str, Any]]:
    def one(i: int) -> Callable[[], Awaitable[tuple[int, Any]]]:
        return lambda: backend.submit(sample_ticket(f"L-{i}", _approvers(i)))

    answers = await _all([one(i) for i in range(REQUESTS)])
    assert [status for status, _ in answers] == [202] * REQUESTS, answers
    return [receipt for _, receipt in answers]


async def _burst(tmp_path: Path) -> None:
    embedded = await start(
        fast_settings(tmp_path / "data", sandbox_platforms=["lark"], outbox=OUTBOX)
    )
    try:
        backend = embedded.backend
        assert backend is not None
        platform, sandbox = _lark(embedded)
        sandbox.limit_app_qps(50)
        sandbox.limit_user_qps(5)
        await sandbox.wait_connected()
        seats = {
            s.account_id: s
            for s in [await embedded.seat("lark", f"u{i}", f"User {i}") for i in range(USERS)]
        }
        receipts = await _submit(backend)
        planned = [
            (r["ticket_id"], d["delivery_id"], d["account_id"])
            for r in receipts
            for d in r["deliveries"]
        ]
        assert len(planned) == REQUESTS * 5 // 4

        async def every_card_out() -> bool:
            return sum(len(sandbox.cards(s.address)) for s in seats.values()) >= len(planned)

        await eventually(every_card_out, within=150)
        _assert_one_card_per_delivery(platform, seats, planned)
        deciders = {ticket: (delivery, account) for ticket, delivery, account in reversed(planned)}
        clicks = [_click(platform, seats[a], d) for d, a in deciders.values()]
        outcomes = await _all(clicks)
        assert not [o for o in outcomes if o.failed]

        async def every_decision_in() -> bool:
            return len(backend.decisions) >= REQUESTS

        await eventually(every_decision_in, within=150)
        _assert_forwarded_once(backend)
    finally:
        await embedded.stop()


def _click(platform: LarkPlatform, seat: Seat, delivery: str) -> Callable[[], Awaitable[Any]]:
    return lambda: platform.click(seat, delivery, ClickAction.APPROVE)


def _assert_one_card_per_delivery(
    platform: LarkPlatform, seats: dict[str, Seat], planned: list[tuple[str, str, str]]
) -> None:
    for account, seat in seats.items():
        held = Counter(card.delivery_id for card in platform.held(seat))
        expected = Counter(d for _, d, a in planned if a == account)
        assert held == expected, account


def _assert_forwarded_once(backend: SandboxBackend) -> None:
    tickets = Counter(d.ticket_id for d in backend.decisions)
    assert set(tickets) == {f"L-{i}" for i in range(REQUESTS)}
    assert set(tickets.values()) == {1}
    delivered = Counter(a.webhook_id for a in backend.attempts if a.status == 200)
    assert len(delivered) == REQUESTS and set(delivered.values()) == {1}


async def test_a_burst_under_the_platform_limits_drops_nothing_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    await _burst(tmp_path)
