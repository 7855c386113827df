"""Through the sandboxes: an approver who does not answer gets the platform's own urgency on
the card already sent once the wait is over (the clock is moved, never waited for); no second
card goes out, and the request's trace says what was sent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states
from tests.support.clock import MovableClock

URGENT = {"reminders": {"after": "PT30M", "urgent": "app"}}


async def _submit(embedded: Embedded, ticket_id: str, account: str, name: str) -> None:
    backend = embedded.backend
    assert backend is not None
    ticket = {**sample_ticket(ticket_id, [approver(account, name)]), **URGENT}
    status, body = await backend.submit(ticket)
    assert status == 202, body

    async def sent() -> bool:
        return await states(backend, ticket_id) == ["sent"]

    await eventually(sent)


async def _trace_lines(embedded: Embedded, ticket_id: str) -> list[str]:
    request = await embedded.gateway.service.get(ticket_id)
    return [e.detail for d in request.deliveries for e in d.history]


async def test_a_lark_approver_gets_urgent_app_on_the_original_card(tmp_path: Path) -> None:
    clock = MovableClock()
    embedded = await start(
        fast_settings(tmp_path / "data", sandbox_platforms=["lark"]), clock=clock
    )
    try:
        seat = await embedded.seat("lark", "a1", "Ann")
        await _submit(embedded, "T-LARK", "a1", "Ann")
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        urgent = platform.app().urgent
        card = (await embedded.gateway.service.get("T-LARK")).deliveries[0]
        clock.advance(timedelta(minutes=29))
        assert urgent.sent == []  # before the wait is over: nothing
        clock.advance(timedelta(minutes=1, seconds=1))

        line = "reminder 1: app urgency on the original card (lark)"

        async def traced() -> bool:
            return line in await _trace_lines(embedded, "T-LARK")

        await eventually(traced)  # recorded after the urgency went out
        assert [(u.message_id, u.kind, u.open_id) for u in urgent.sent] == [
            (card.external_ref, "app", seat.address)
        ]
        assert len((await embedded.gateway.service.get("T-LARK")).deliveries) == 1
    finally:
        await embedded.stop()


async def test_a_dingtalk_approver_gets_a_ding(tmp_path: Path) -> None:
    clock = MovableClock()
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"])
    embedded = await start(settings, clock=clock)
    try:
        seat = await embedded.seat("dingtalk", "a1", "Ann")
        await _submit(embedded, "T-DING", "a1", "Ann")
        platform = embedded.platform_of("dingtalk")
        assert isinstance(platform, DingTalkPlatform)
        sandbox = platform.sandboxes["dingtalk"]
        clock.advance(timedelta(minutes=30, seconds=1))

        line = "reminder 1: app urgency on the original card (dingtalk)"

        async def traced() -> bool:
            return line in await _trace_lines(embedded, "T-DING")

        await eventually(traced)  # recorded after the DING went out
        [ding] = sandbox.dings
        assert (ding.remind_type, ding.receivers) == (1, (seat.address,))
        assert "T-DING" in ding.content
        assert len(sandbox.cards(seat.address)) == 1  # never a second live card
    finally:
        await embedded.stop()
