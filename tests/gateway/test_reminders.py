"""Reminders as durable jobs, through the embedded gateway on the memory platform: written with
the request, run once when the clock passes their time (moved, never waited for), not lost nor
repeated across a restart, and cancelled by the request's close."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.memory import MemoryChannel
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts, run_cli
from tests.support.clock import MovableClock

EVERY_TEN = {"after": "PT10M", "every": "PT10M", "max": 2}


def _steps(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT ref, state FROM outbox WHERE kind = 'timing_step' ORDER BY id")
        return [(ref.split("/", 1)[1], state) for ref, state in rows]


async def _submit(embedded: Embedded, ticket_id: str, **timing: Any) -> None:
    _, backend, _ = parts(embedded)
    ticket = {**sample_ticket(ticket_id, [approver("a1", "Ann")]), **timing}
    status, body = await backend.submit(ticket)
    assert status == 202, body


async def _told(memory: MemoryChannel, count: int) -> None:
    async def enough() -> bool:
        return len(memory.told) >= count

    await eventually(enough)


async def test_a_reminder_runs_once_and_a_restart_neither_loses_nor_repeats_the_next(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    settings = fast_settings(tmp_path / "data")
    first = await start(settings, clock=clock)
    try:
        await _submit(first, "T-REMIND", reminders=EVERY_TEN)
        assert _steps(settings.db_path) == [
            ("reminder:1:a1", "pending"),
            ("reminder:2:a1", "pending"),
        ]
        clock.advance(timedelta(minutes=10, seconds=1))
        _, _, memory = parts(first)
        await _told(memory, 1)
        assert memory.told[0][0] == "a1" and "T-REMIND" in memory.told[0][1]
    finally:
        await first.stop()
    assert _steps(settings.db_path) == [("reminder:1:a1", "done"), ("reminder:2:a1", "pending")]

    second = await start(settings, clock=clock)
    try:
        _, _, memory = parts(second)
        assert memory.told == []  # the first reminder is not sent again
        clock.advance(timedelta(minutes=10))
        service = second.gateway.service

        async def both_traced() -> list[str]:
            request = await service.get("T-REMIND")
            history = [e.detail for d in request.deliveries for e in d.history]
            lines = [h for h in history if h.startswith("reminder")]
            return lines if len(lines) == 2 else []

        assert await eventually(both_traced) == [
            "reminder 1: a plain reminder on memory",
            "reminder 2: a plain reminder on memory",
        ]
    finally:
        await second.stop()
    assert _steps(settings.db_path) == [("reminder:1:a1", "done"), ("reminder:2:a1", "done")]
    assert len(memory.told) == 1


async def test_a_withdrawal_cancels_the_steps_in_the_same_unit(tmp_path: Path) -> None:
    clock = MovableClock()
    settings = fast_settings(tmp_path / "data")
    embedded = await start(settings, clock=clock)
    try:
        await _submit(embedded, "T-GONE", reminders=EVERY_TEN)
        _, backend, memory = parts(embedded)
        status, body = await backend.withdraw("T-GONE")
        assert status == 200, body
        assert {state for _, state in _steps(settings.db_path)} == {"cancelled"}
        clock.advance(timedelta(minutes=25))
        assert await embedded.gateway.service.expire_due() == 0
        assert memory.told == []
    finally:
        await embedded.stop()


async def test_a_request_without_timing_fields_queues_no_step(stack: object) -> None:
    embedded, _, _ = parts(stack)
    await _submit(embedded, "T-PLAIN")
    assert _steps(embedded.gateway.settings.db_path) == []


def _zone_showing(hour: int, at: datetime) -> str:
    """A fixed-offset IANA zone whose clocks show ``hour`` o'clock (give or take) at ``at``."""
    offset = (hour - at.hour + 12) % 24 - 12  # -12..+11
    return f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-5 is UTC+5


async def test_quiet_hours_read_the_approvers_own_zone(tmp_path: Path) -> None:
    # The ticket's locale puts the approver at midday; their own zone at about 02:00, in the
    # night 22:00-08:00: the reminder waits for 08:00 there.
    clock = MovableClock()
    soon = clock.now() + timedelta(minutes=10)
    own, by_locale = _zone_showing(2, soon), _zone_showing(12, soon)
    quiet = {"quiet_hours": "22:00-08:00", "zones": {"en-US": by_locale}}
    settings = fast_settings(tmp_path / "data", reminders=quiet)
    embedded = await start(settings, clock=clock)
    try:
        code, out, err = await run_cli(
            "preferences", "set", "a1", "--zone", own, data_dir=settings.data_dir
        )
        assert code == 0 and f"time_zone\t{own}" in out, err
        expires = (soon + timedelta(hours=24)).isoformat()
        await _submit(embedded, "T-QUIET", reminders={"after": "PT10M"}, expires_at=expires)
        with sqlite3.connect(settings.db_path) as conn:
            due, payload = conn.execute(
                "SELECT next_attempt_at, payload FROM outbox WHERE kind = 'timing_step'"
            ).fetchone()
        assert f"held by quiet hours 22:00-08:00 ({own})" in json.loads(payload)["note"]
        held = datetime.fromisoformat(due)
        assert held.astimezone(ZoneInfo(own)).time() == time(8, 0)
        assert held - soon > timedelta(hours=5)
    finally:
        await embedded.stop()
