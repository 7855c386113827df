"""Hand-over (转交) from the Lark card itself, through the real lark-oapi client and the sandbox:
the approver picks a colleague on the card's person picker (``select_person``), the colleague
gets a card and decides, and the decision carries their vote. A pick the gateway cannot follow
(a person bound to no account, the submitter) is answered with a toast and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.phone.page import phone_url
from sandbox.tickets import approver, sample_ticket
from tests.channels.test_votes_on_platforms import backend_of, card_text, submit
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace


@pytest.fixture
async def lark_only(tmp_path: Path) -> AsyncIterator[Embedded]:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["lark"]))
    try:
        await _lark(embedded).app().wait_connected()
        yield embedded
    finally:
        await embedded.stop()


def _lark(embedded: Embedded) -> LarkPlatform:
    lark = embedded.platform_of("lark")
    assert isinstance(lark, LarkPlatform)
    return lark


def _picker_placeholder(embedded: Embedded, open_id: str) -> list[str]:
    # The placeholders of the person pickers on the user's newest card.
    card = _lark(embedded).app().cards(open_id)[-1].content
    return [
        e["placeholder"]["content"] for e in card["body"]["elements"] if e["tag"] == "select_person"
    ]


async def test_ann_picks_bo_on_her_card_and_bo_decides(lark_only: Embedded) -> None:
    lark = _lark(lark_only)
    ann = await lark_only.seat("lark", "a1", "Ann")
    bo = await lark_only.seat("lark", "b7", "Bo")
    cards = await submit(lark_only, sample_ticket("T-PICK", [approver("a1", "Ann")]))
    assert _picker_placeholder(lark_only, ann.address) == ["Hand over to…"]

    picked = await lark.pick(ann, cards["a1"], bo.address)
    assert picked.failed is False
    assert picked.toast == "Handed over to b7: they get a card to decide."
    assert "You handed this request over to b7" in card_text(lark_only, ann)  # in the ACK
    assert _picker_placeholder(lark_only, ann.address) == []  # and no more buttons or picker

    body = await trace(backend_of(lark_only), "T-PICK")
    assert [(j["account_id"], j["how"], j["replaces"]) for j in body["joined"]] == [
        ("b7", "handed_over", "a1")
    ]
    bo_card = next(d["delivery_id"] for d in body["deliveries"] if d["account_id"] == "b7")

    async def bo_holds_it() -> bool:
        return "Waiting for your approval" in card_text(lark_only, bo)

    await eventually(bo_holds_it)
    approved = await lark.click(bo, bo_card, ClickAction.APPROVE, "fine by me")
    assert approved.card_state == "approved"
    decision = await backend_of(lark_only).wait_for_decision("T-PICK")
    assert decision.body["decision"] == "approved"
    votes = [(v["account_id"], v["outcome"], v["channel"]) for v in decision.body["votes"]]
    assert votes == [("b7", "approved", "lark")]


async def test_a_pick_the_gateway_cannot_follow_is_a_toast_and_changes_nothing(
    lark_only: Embedded,
) -> None:
    lark = _lark(lark_only)
    ann = await lark_only.seat("lark", "a1", "Ann")
    submitter = await lark_only.seat("lark", "1001", "Chen Jie")  # the sample's submitter
    lark.app().add_user("ou_stranger", name="Stranger")  # in the tenant, bound to no account
    cards = await submit(lark_only, sample_ticket("T-NOPE", [approver("a1", "Ann")]))

    unbound = await lark.pick(ann, cards["a1"], "ou_stranger")
    assert unbound.toast == (
        "The person you picked is not bound to a cloud account; ask them to bind first."
    )
    own = await lark.pick(ann, cards["a1"], submitter.address)
    assert own.toast == "The person you picked submitted this request and cannot approve it."

    body = await trace(backend_of(lark_only), "T-NOPE")
    assert body["joined"] == [] and [d["account_id"] for d in body["deliveries"]] == ["a1"]
    assert [a["account_id"] for a in body["awaited"]] == ["a1"]
    assert _picker_placeholder(lark_only, ann.address) == ["Hand over to…"]  # still hers
    assert (unbound.card_state, own.card_state) == ("pending", "pending")


async def test_the_sandbox_phone_offers_the_other_seats_and_picks_over_the_platform(
    lark_only: Embedded,
) -> None:
    ann = await lark_only.seat("lark", "a1", "Ann")
    bo = await lark_only.seat("lark", "b7", "Bo")
    cards = await submit(lark_only, sample_ticket("T-PHONE", [approver("a1", "Ann")]))
    phone = phone_url(lark_only.gateway.url, ann.address)
    async with aiohttp.ClientSession() as session:
        async with session.get(phone) as shown:
            page = await shown.text()
        assert f'<option value="{bo.address}">Bo</option>' in page
        assert f'<option value="{ann.address}">' not in page  # nobody hands over to themself
        form = {"ref": cards["a1"], "action": "hand_over", "to": bo.address}
        async with session.post(f"{phone}/click", data=form, allow_redirects=False) as tapped:
            assert tapped.status == 303
            told = parse_qs(urlsplit(tapped.headers["Location"]).query)["toast"]
    assert told == ["Handed over to b7: they get a card to decide."]
    assert "You handed this request over to b7" in card_text(lark_only, ann)
