"""A reminder or escalation step goes out at most once, whatever dies around its send: run again
after a crash between its send and its record, it is not sent again and its trace says so; run
again after its record (before its job completed), it does nothing; a send the channel reports
failed is sent by the retry. Through the ports, on SQLite, with a moved clock."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest, UrgencyKind
from bot.core.models import DeliveryState, Job
from bot.core.nudges import NOT_REPEATED, Nudges, Nudging
from bot.core.ports import ChannelCapabilities
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.core.timing.steps import TIMING_STEP
from bot.errors import ChannelError
from bot.store.sqlite import SqliteStore
from sandbox.tickets import approver, sample_ticket
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEP = "reminder 1"


class Died(Exception):
    """The process died here (not a GatewayError: the worker retries it as a crash)."""


class Urging(MemoryChannel):
    """Memory channel with SMS urgency; ``then`` is raised once, after (or instead of) a send."""

    capabilities = ChannelCapabilities(urgency=frozenset({"app", "sms"}))

    def __init__(self) -> None:
        super().__init__()
        self.urged: list[UrgencyKind] = []
        self.then: Exception | None = None
        self.sent_before_raising = True

    async def urge(self, address: str, external_ref: str, kind: UrgencyKind, text: str) -> None:
        error, self.then = self.then, None
        if error is None or self.sent_before_raising:
            self.urged.append(kind)
        if error is not None:
            raise error


@dataclass
class Rig:
    nudges: Nudges
    service: ApprovalService
    channel: Urging
    db: Path
    job: Job

    def audited(self) -> list[str]:
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT detail FROM audit WHERE action = 'reminder.sent'")
            return [detail for (detail,) in rows]

    def usage(self) -> int:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT SUM(count) FROM usage WHERE kind = 'urgent_sms'").fetchone()
            return int(row[0] or 0)

    async def trace(self) -> list[str]:
        request = await self.service.get("T-ONCE")
        return [e.detail for d in request.deliveries for e in d.history if STEP in e.detail]


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        pass


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    clock = MovableClock(T0)
    channel = Urging()
    router = Router({"memory": channel}, ["memory"])
    service = ApprovalService(store, clock, router, NoWakeup())
    nudges = Nudges(store, clock, router, lambda name, at: channel, Nudging(paid=lambda c: True))
    ticket = {**sample_ticket("T-ONCE", [approver("a1", "Ann")])}
    ticket["reminders"] = {"after": "PT10M", "urgent": "sms"}
    try:
        await service.submit(ApprovalRequest.model_validate(ticket))
        request = await service.get("T-ONCE")
        card = request.deliveries[0]
        async with store.unit() as uow:  # the card went out
            await uow.deliveries.set_state(card.id, DeliveryState.SENT, T0, external_ref="m-1")
        clock.advance(timedelta(minutes=10, seconds=1))
        now = clock.now()
        async with store.unit() as uow:
            lease = now + timedelta(seconds=30)
            (job,) = await uow.outbox.claim("w", now, lease, 5, kinds=(TIMING_STEP,))
        assert job.ref == f"{request.id}/reminder:1:a1"
        yield Rig(nudges, service, channel, tmp_path / "gateway.db", job)
    finally:
        await store.close()


async def test_a_step_run_again_after_its_record_does_nothing(rig: Rig) -> None:
    await rig.nudges.run(rig.job)
    await rig.nudges.run(rig.job)  # died before the job's completion: claimed again
    assert rig.channel.urged == ["sms"]
    assert await rig.trace() == [f"{STEP}: sms urgency on the original card (memory)"]
    assert len(rig.audited()) == 1 and rig.usage() == 1


async def test_a_step_that_died_after_its_send_is_not_sent_again_and_says_so(rig: Rig) -> None:
    rig.channel.then = Died()
    with pytest.raises(Died):
        await rig.nudges.run(rig.job)
    await rig.nudges.run(rig.job)
    await rig.nudges.run(rig.job)
    assert rig.channel.urged == ["sms"]  # one paid SMS, not two
    assert await rig.trace() == [f"{STEP}: {NOT_REPEATED}"]
    assert rig.audited() == [f"a1: {STEP}: {NOT_REPEATED}"]


async def test_a_send_the_channel_reports_failed_is_sent_by_the_retry(rig: Rig) -> None:
    rig.channel.then = ChannelError("platform unavailable")  # retryable: nothing went out
    rig.channel.sent_before_raising = False
    with pytest.raises(ChannelError):
        await rig.nudges.run(rig.job)
    await rig.nudges.run(rig.job)
    assert rig.channel.urged == ["sms"]
    assert await rig.trace() == [f"{STEP}: sms urgency on the original card (memory)"]
    assert len(rig.audited()) == 1 and rig.usage() == 1
