"""Through the sandboxes, with the real clients and a moved clock: SMS and phone urgency go only
where the channel's admin accepted their cost with its notice (``paid_urgency``); otherwise, or
when the platform refuses them (Lark's quota spent, DingTalk without the paid plan), in-app
urgency goes instead, and the trace says why. Each paid urgency is counted in the usage, each
step is in the audit log and, with step events on, one signed event reaches the backend."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app.runtime import Gateway
from bot.channel_access.notice import make_notice
from bot.settings.config import Settings
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import audit, authorize, call, token
from tests.gateway.helpers import eventually, states
from tests.support.clock import MovableClock

LADDER = {
    "reminders": {"after": "PT30M", "urgent": "sms"},
    "escalation": [{"after": "PT1H", "urgent": "phone"}],
}


def _settings(tmp_path: Path, platform: str, **extra: Any) -> Settings:
    return fast_settings(tmp_path / "data", sandbox_platforms=[platform], **extra)


async def _submit(embedded: Embedded, ticket_id: str, timing: dict[str, Any]) -> None:
    backend = embedded.backend
    assert backend is not None
    ticket = {**sample_ticket(ticket_id, [approver("a1", "Ann")]), **timing}
    status, body = await backend.submit(ticket)
    assert status == 202, body

    async def sent() -> bool:
        return await states(backend, ticket_id) == ["sent"]

    await eventually(sent)


async def _traced(embedded: Embedded, ticket_id: str, line: str) -> None:
    lines: list[str] = []

    async def there() -> bool:
        request = await embedded.gateway.service.get(ticket_id)
        lines[:] = [e.detail for d in request.deliveries for e in d.history]
        return line in lines

    try:
        await eventually(there)
    except AssertionError as exc:
        raise AssertionError(f"{line!r} not in the trace {lines}") from exc


async def _settled(embedded: Embedded) -> None:
    """No job is running: moving the clock on now cannot expire a lease (a job run twice)."""
    db = embedded.gateway.settings.db_path

    async def idle() -> bool:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            leased = (
                "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND lease_owner IS NOT NULL"
            )
            return bool(conn.execute(leased).fetchone()[0] == 0)

    await eventually(idle)


async def _usage(gateway: Gateway, admin: str, channel: str) -> dict[str, int]:
    status, report = await call(gateway, "GET", f"/v1/usage?channel={channel}", admin)
    assert status == 200, report
    totals: dict[str, int] = report["totals"][channel]
    return totals


async def test_lark_sms_with_paid_urgency_accepted_then_app_once_the_quota_is_spent(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    embedded = await start(_settings(tmp_path, "lark", backend_step_events=True), clock=clock)
    try:
        gateway = embedded.gateway
        admin = await token(gateway, "admin")
        status, answer = await authorize(gateway, admin, "lark", paid_urgency=True)
        assert status == 200, answer
        seat = await embedded.seat("lark", "a1", "Ann")
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        urgent = platform.app().urgent
        urgent.quota["sms"] = 1  # the tenant's paid quota: one SMS, no phone call
        await _submit(embedded, "T-SMS", LADDER)
        card = (await gateway.service.get("T-SMS")).deliveries[0]

        clock.advance(timedelta(minutes=30, seconds=1))
        await _traced(embedded, "T-SMS", "reminder 1: sms urgency on the original card (lark)")
        await _settled(embedded)
        clock.advance(timedelta(minutes=30))
        refused = (
            "escalation 0: app urgency on the original card (lark) (phone urgency refused by "
            "lark: im.message.urgent_phone: HTTP 400 code 230024)"
        )
        await _traced(embedded, "T-SMS", refused)

        sent = [(u.message_id, u.kind, u.open_id) for u in urgent.sent]
        assert sent == [
            (card.external_ref, "sms", seat.address),
            (card.external_ref, "app", seat.address),
        ]
        usage = await _usage(gateway, admin, "lark")
        assert (usage["urgent_sms"], usage["urgent_phone"]) == (1, 0)
        assert [a["action"] for a in await audit(gateway, admin, "reminder.sent")] == [
            "reminder.sent"
        ]
        [escalated] = await audit(gateway, admin, "escalation.sent")
        assert escalated["target"] == "T-SMS" and "phone urgency refused" in escalated["detail"]
        await _steps_arrive_once(embedded)
    finally:
        await embedded.stop()


async def _steps_arrive_once(embedded: Embedded) -> None:
    backend = embedded.backend
    assert backend is not None

    async def both() -> bool:
        return len(backend.steps) == 2

    await eventually(both)
    events = [s.body for s in backend.steps]  # verified against the secret, one per id
    assert [(e["type"], e["step"], e["sent"], e["asked"]) for e in events] == [
        ("approval.reminded", "reminder 1", "sms", "sms"),
        ("approval.escalated", "escalation 0", "app", "phone"),
    ]
    assert all(e["ticket_id"] == "T-SMS" and e["channel"] == "lark" for e in events)
    ids = [s.webhook_id for s in backend.steps]
    assert [a.webhook_id for a in backend.attempts if a.webhook_id in ids] == ids  # once each


async def test_without_paid_urgency_accepted_lark_gets_urgent_app_and_the_trace_says_why(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    embedded = await start(_settings(tmp_path, "lark"), clock=clock)
    try:
        gateway = embedded.gateway
        admin = await token(gateway, "admin")
        status, answer = await authorize(gateway, admin, "email", paid_urgency=True)
        assert status == 422 and "paid_urgency" in answer["error"]["fields"], answer
        await embedded.seat("lark", "a1", "Ann")
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        urgent = platform.app().urgent
        urgent.quota["sms"] = 10  # the quota is there: only the consent is missing
        await _submit(embedded, "T-FREE", {"reminders": {"after": "PT30M", "urgent": "sms"}})
        clock.advance(timedelta(minutes=30, seconds=1))
        line = (
            "reminder 1: app urgency on the original card (lark) (sms urgency not used: lark's "
            "consent does not accept paid urgency (authorize it with paid_urgency: true))"
        )
        await _traced(embedded, "T-FREE", line)
        assert [u.kind for u in urgent.sent] == ["app"]
        assert urgent.quota["sms"] == 10
        assert (await _usage(gateway, admin, "lark"))["urgent_sms"] == 0
        _, channels = await call(gateway, "GET", "/v1/channels", admin)
        assert [c["paid_urgency"] for c in channels if c["channel"] == "lark"] == [False]
    finally:
        await embedded.stop()


async def test_dingtalk_without_the_paid_plan_falls_back_to_an_in_app_ding_then_phone_with_it(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    embedded = await start(_settings(tmp_path, "dingtalk"), clock=clock)
    try:
        gateway = embedded.gateway
        admin = await token(gateway, "admin")
        status, answer = await authorize(gateway, admin, "dingtalk", paid_urgency=True)
        assert status == 200, answer
        seat = await embedded.seat("dingtalk", "a1", "Ann")
        platform = embedded.platform_of("dingtalk")
        assert isinstance(platform, DingTalkPlatform)
        sandbox = platform.sandboxes["dingtalk"]
        await _submit(embedded, "T-DING", LADDER)

        clock.advance(timedelta(minutes=30, seconds=1))
        await _traced(
            embedded,
            "T-DING",
            "reminder 1: app urgency on the original card (dingtalk) (sms urgency refused by "
            "dingtalk: /v1.0/robot/ding/send: 400 ding.serverquota.insufficient ding server "
            "quota insufficient)",
        )
        await _settled(embedded)
        sandbox.paid_plan = True
        clock.advance(timedelta(minutes=30))
        await _traced(
            embedded, "T-DING", "escalation 0: phone urgency on the original card (dingtalk)"
        )
        assert [(d.remind_type, d.receivers) for d in sandbox.dings] == [
            (1, (seat.address,)),
            (3, (seat.address,)),
        ]
        usage = await _usage(gateway, admin, "dingtalk")
        assert (usage["urgent_sms"], usage["urgent_phone"]) == (0, 1)
        assert len(sandbox.cards(seat.address)) == 1  # never a second live card
    finally:
        await embedded.stop()


def test_the_notice_lists_the_urgency_rates_and_its_version_follows_them(tmp_path: Path) -> None:
    base = _settings(tmp_path, "lark")
    dearer = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["lark"],
        rates={"platform_per_urgent_phone": {"lark": 0.5}},
    )
    notice = make_notice(base, "lark", credentials_in_settings=True)
    urgency = notice.billing["urgency"]
    assert (urgency["sms"], urgency["phone"]) == (0.1, 0.2)
    assert urgency["charged_by"] == "the platform, to the tenant"
    assert "paid_urgency: true" in notice.uses
    changed = make_notice(dearer, "lark", credentials_in_settings=True)
    assert changed.billing["urgency"]["phone"] == 0.5
    assert changed.version != notice.version  # new rates: consent is asked for again
    email = make_notice(base, "email", credentials_in_settings=True)
    assert "urgency" not in email.billing
