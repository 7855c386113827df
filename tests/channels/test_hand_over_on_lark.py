"""Hand-over (转交) from the Lark card itself, through the real lark-oapi client and the sandbox:
the approver picks a colleague on the card's person picker (``select_person``), the colleague
gets a card and decides, and the decision carries their vote. A pick the gateway cannot follow
(a person unbound since the card was drawn) is answered with a toast and changes nothing; the
picker lists the colleagues bound on the channel, so nobody else can be picked at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.embedded import Embedded, start
from sandbox.lark.pickers import NotOffered
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


def _pickers(embedded: Embedded, open_id: str) -> list[dict[str, Any]]:
    # The person pickers on the user's newest card.
    card = _lark(embedded).app().cards(open_id)[-1].content
    return [e for e in card["body"]["elements"] if e["tag"] == "select_person"]


def _offered(embedded: Embedded, open_id: str) -> list[str]:
    (picker,) = _pickers(embedded, open_id)
    assert picker["placeholder"]["content"] == "Hand over to…"
    return [option["value"] for option in picker["options"]]


async def test_ann_picks_bo_on_her_card_and_bo_decides(lark_only: Embedded) -> None:
    lark = _lark(lark_only)
    ann = await lark_only.seat("lark", "a1", "Ann")
    bo = await lark_only.seat("lark", "b7", "Bo")
    cards = await submit(lark_only, sample_ticket("T-PICK", [approver("a1", "Ann")]))
    assert _offered(lark_only, ann.address) == [bo.address]  # not Ann herself

    picked = await lark.pick(ann, cards["a1"], bo.address)
    assert picked.failed is False
    assert picked.toast == "Handed over to b7: they get a card to decide."
    assert "You handed this request over to b7" in card_text(lark_only, ann)  # in the ACK
    assert _pickers(lark_only, ann.address) == []  # and no more buttons or picker

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


async def test_the_card_offers_bound_colleagues_only_and_a_pick_of_anyone_else_is_refused(
    lark_only: Embedded,
) -> None:
    lark = _lark(lark_only)
    ann = await lark_only.seat("lark", "a1", "Ann")
    cy = await lark_only.seat("lark", "c3", "Cy")  # the other approver
    submitter = await lark_only.seat("lark", "1001", "Chen Jie")  # the sample's submitter
    bo = await lark_only.seat("lark", "b7", "Bo")
    dee = await lark_only.seat("lark", "d9", "Dee")
    lark.app().add_user("ou_stranger", name="Stranger")  # in the tenant, bound to no account
    ticket = sample_ticket("T-NOPE", [approver("a1", "Ann"), approver("c3", "Cy")])
    cards = await submit(lark_only, ticket)
    # The colleagues bound on the channel in account order, not the submitter nor an approver.
    assert _offered(lark_only, ann.address) == [bo.address, dee.address]

    for nobody in ("ou_stranger", submitter.address, cy.address, ann.address):
        with pytest.raises(NotOffered):  # the client lists only whom the picker offers
            await lark.pick(ann, cards["a1"], nobody)

    # Dee unbinds after the card was drawn: the pick reaches the gateway, which answers.
    await lark_only.gateway.bindings.remove(
        "d9", "lark", by="admin", at=lark_only.gateway.clock.now()
    )
    unbound = await lark.pick(ann, cards["a1"], dee.address)
    assert unbound.toast == (
        "The person you picked is not bound to a cloud account; ask them to bind first."
    )
    body = await trace(backend_of(lark_only), "T-NOPE")
    assert body["joined"] == [] and sorted(d["account_id"] for d in body["deliveries"]) == [
        "a1",
        "c3",
    ]
    assert sorted(a["account_id"] for a in body["awaited"]) == ["a1", "c3"]
    assert _offered(lark_only, ann.address) == [bo.address, dee.address]  # left as it was
    assert unbound.card_state == "pending"


async def test_the_sandbox_phone_offers_whom_the_card_lists_and_picks_over_the_platform(
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
