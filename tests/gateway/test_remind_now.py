"""``POST /v1/approvals/{ticket_id}/remind`` through HTTP, with the sandboxes: those the open
stage still awaits are reminded at once (Lark: ``urgent_app`` on the card already sent), at most
once per approver in the window (the clock is moved, never waited for); a resend replays; a
closed request is 409, an unknown one 404; an admin token may ask too; each call is audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import audit, call, token
from tests.gateway.helpers import eventually, states
from tests.support.clock import MovableClock

LINE = "reminder now: app urgency on the original card (lark)"


class Answer:
    """Status, headers and JSON body of one call."""

    def __init__(self, status: int, headers: dict[str, str], body: Any) -> None:
        self.status, self.headers, self.body = status, headers, body


async def _remind(embedded: Embedded, ticket_id: str, request_id: str | None = None) -> Answer:
    backend = embedded.backend
    assert backend is not None
    path = f"/v1/approvals/{ticket_id}/remind"
    at = embedded.gateway.clock.now()  # the gateway's clock is moved: sign in its time
    headers = backend.sign("POST", path, request_id=request_id, at=at)
    async with (
        aiohttp.ClientSession() as session,
        session.post(embedded.gateway.url + path, headers=headers) as response,
    ):
        text = await response.text()
        return Answer(response.status, dict(response.headers), json.loads(text) if text else None)


async def _submit(embedded: Embedded, ticket_id: str, *approvers: tuple[str, str]) -> None:
    backend = embedded.backend
    assert backend is not None
    ticket = sample_ticket(ticket_id, [approver(a, n) for a, n in approvers])
    status, body = await backend.submit(ticket)
    assert status == 202, body

    async def sent() -> bool:
        return set(await states(backend, ticket_id)) == {"sent"}

    await eventually(sent)


async def _history(embedded: Embedded, ticket_id: str) -> list[str]:
    request = await embedded.gateway.service.get(ticket_id)
    return [e.detail for d in request.deliveries for e in d.history]


async def _lark(tmp_path: Path, clock: MovableClock) -> Embedded:
    return await start(fast_settings(tmp_path / "data", sandbox_platforms=["lark"]), clock=clock)


async def test_a_lark_approver_gets_urgent_app_now_and_a_second_call_is_too_soon(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    embedded = await _lark(tmp_path, clock)
    try:
        seat = await embedded.seat("lark", "a1", "Ann")
        await _submit(embedded, "T-NOW", ("a1", "Ann"))
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        urgent = platform.app().urgent
        card = (await embedded.gateway.service.get("T-NOW")).deliveries[0]

        first = await _remind(embedded, "T-NOW", request_id="remind-1")
        assert first.status == 202, first.body
        assert first.body["reminded"] == [
            {"account_id": "a1", "display_name": "Ann", "channel": "lark", "urgent": "app"}
        ]
        assert first.body["skipped"] == []

        async def traced() -> bool:
            return LINE in await _history(embedded, "T-NOW")

        await eventually(traced)  # recorded after the urgency went out
        assert [(u.message_id, u.kind, u.open_id) for u in urgent.sent] == [
            (card.external_ref, "app", seat.address)
        ]

        again = await _remind(embedded, "T-NOW", request_id="remind-1")  # a resend replays
        assert (again.status, again.body) == (202, first.body)
        assert again.headers.get("Idempotent-Replayed") == "true"

        clock.advance(timedelta(minutes=4))
        soon = await _remind(embedded, "T-NOW")
        assert soon.status == 429, soon.body
        assert soon.headers["Retry-After"] == "360"
        assert soon.body["error"]["code"] == "reminded_too_recently"
        assert "a1" in soon.body["error"]["fields"]

        clock.advance(timedelta(minutes=6))
        later = await _remind(embedded, "T-NOW")
        assert later.status == 202, later.body

        async def twice() -> bool:
            return len(urgent.sent) == 2

        await eventually(twice)
        assert len((await embedded.gateway.service.get("T-NOW")).deliveries) == 1
    finally:
        await embedded.stop()


async def test_only_those_not_reminded_lately_are_reminded_and_an_admin_may_ask(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    embedded = await _lark(tmp_path, clock)
    try:
        await embedded.seat("lark", "a1", "Ann")
        await _submit(embedded, "T-TWO", ("a1", "Ann"))
        assert (await _remind(embedded, "T-TWO")).status == 202
        request = await embedded.gateway.service.get("T-TWO")
        assert request.status == "pending"
        admin = await token(embedded.gateway, "admin")
        support = await token(embedded.gateway, "support")
        path = "/v1/approvals/T-TWO/remind"
        assert (await call(embedded.gateway, "POST", path, support))[0] == 403
        status, body = await call(embedded.gateway, "POST", path, admin)
        assert status == 429, body
        clock.advance(timedelta(minutes=10))
        status, body = await call(embedded.gateway, "POST", path, admin)
        assert status == 202, body
        assert [r["account_id"] for r in body["reminded"]] == ["a1"]
        records = await audit(embedded.gateway, admin, "reminder.sent_now")
        assert [(r["target"], r["detail"]) for r in records] == [
            ("T-TWO", "reminded a1"),
            ("T-TWO", "reminded a1"),
        ]
    finally:
        await embedded.stop()


async def test_a_closed_request_is_409_and_an_unknown_one_404(tmp_path: Path) -> None:
    clock = MovableClock()
    embedded = await _lark(tmp_path, clock)
    try:
        await embedded.seat("lark", "a1", "Ann")
        await _submit(embedded, "T-SHUT", ("a1", "Ann"))
        backend = embedded.backend
        assert backend is not None
        status, body = await backend.withdraw("T-SHUT")
        assert status == 200, body
        shut = await _remind(embedded, "T-SHUT")
        assert shut.status == 409, shut.body
        assert shut.body["error"]["code"] == "request_closed"
        missing = await _remind(embedded, "T-NOBODY")
        assert missing.status == 404, missing.body
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        assert platform.app().urgent.sent == []
    finally:
        await embedded.stop()
