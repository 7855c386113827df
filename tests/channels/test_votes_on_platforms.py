"""Multi-approver requests through the real SDKs against the Lark and DingTalk sandboxes.

An all-of request on both platforms is decided by the second approval, once: the backend gets
exactly one decision carrying both votes, and after the first vote every card says so. A
two-stage request sends the second stage's card only once the first stage has approved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.phone.read import dingtalk_card, lark_card
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states, trace


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark", "dingtalk"])
    embedded = await start(settings)
    try:
        lark, dingtalk = embedded.platform_of("lark"), embedded.platform_of("dingtalk")
        assert isinstance(lark, LarkPlatform) and isinstance(dingtalk, DingTalkPlatform)
        await lark.app().wait_connected()
        await dingtalk.sandboxes["dingtalk"].wait_connected()
        yield embedded
    finally:
        await embedded.stop()


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


def card_text(embedded: Embedded, seat: Seat) -> str:
    """What the seat's newest card says, as its phone draws it (markup undone)."""
    held = embedded.platform_of(seat.channel).held(seat)
    if not held:
        return ""
    read = lark_card if held[0].look == "lark" else dingtalk_card
    card = read(held[0].payload)
    lines = [card.title, card.subtitle, *card.tags]
    for block in card.blocks:
        lines += ["".join(span.text for span in line) for line in block.lines]
    return "\n".join(lines)


async def submit(embedded: Embedded, ticket: dict[str, Any]) -> dict[str, str]:
    """Submit; the delivery id of each approver's card, once every card sent is out."""
    status, receipt = await backend_of(embedded).submit(ticket)
    assert status == 202, receipt
    planned = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}

    async def out() -> bool:
        return set(await states(backend_of(embedded), ticket["ticket_id"])) == {"sent"}

    await eventually(out)
    return planned


async def test_an_all_of_request_on_two_platforms_is_decided_once_with_both_votes(
    both: Embedded,
) -> None:
    ann = await both.seat("lark", "a1", "Ann")
    bo = await both.seat("dingtalk", "a2", "Bo")
    ticket = sample_ticket("ALL-2", [approver("a1", "Ann"), approver("a2", "Bo")])
    ticket["policy"] = {"rule": "all"}
    cards = await submit(both, ticket)

    first = await both.platform_of("lark").click(ann, cards["a1"], ClickAction.APPROVE, "ok")
    assert first.failed is False

    async def told_everyone() -> bool:
        return all("1 of 2 approved" in card_text(both, seat) for seat in (ann, bo))

    await eventually(told_everyone)
    assert backend_of(both).decisions == []  # one approval of two decides nothing
    second = await both.platform_of("dingtalk").click(bo, cards["a2"], ClickAction.APPROVE)
    assert second.failed is False

    decision = await backend_of(both).wait_for_decision("ALL-2")

    async def settled() -> bool:
        body = await trace(backend_of(both), "ALL-2")
        return body["decision"]["forward_state"] == "forwarded"

    await eventually(settled)
    assert [d.ticket_id for d in backend_of(both).decisions] == ["ALL-2"]
    assert [a.status for a in backend_of(both).attempts] == [200]
    votes = decision.body["votes"]
    assert [(v["account_id"], v["outcome"], v["channel"]) for v in votes] == [
        ("a1", "approved", "lark"),
        ("a2", "approved", "dingtalk"),
    ]
    assert decision.body["decision"] == "approved"


async def test_the_second_stage_hears_of_the_request_only_after_the_first_approves(
    both: Embedded,
) -> None:
    ann = await both.seat("lark", "a1", "Ann")
    bo = await both.seat("dingtalk", "a2", "Bo")
    ticket = sample_ticket("STAGES-2", [])
    del ticket["approvers"]
    ticket["stages"] = [
        {"name": "DBA review", "approvers": [approver("a1", "Ann")]},
        {"name": "Service owner", "approvers": [approver("a2", "Bo")]},
    ]
    cards = await submit(both, ticket)
    assert list(cards) == ["a1"]  # the second stage's card is not even planned yet
    assert [d["account_id"] for d in (await trace(backend_of(both), "STAGES-2"))["deliveries"]] == [
        "a1"
    ]
    assert both.platform_of("dingtalk").held(bo) == []

    await both.platform_of("lark").click(ann, cards["a1"], ClickAction.APPROVE, "ok")

    async def second_stage_card() -> bool:
        return "Stage 2 of 2: Service owner" in card_text(both, bo)

    async def passed_on() -> bool:
        return "Passed to Service owner" in card_text(both, ann)

    await eventually(second_stage_card)
    await eventually(passed_on)
    assert backend_of(both).decisions == []
