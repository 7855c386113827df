"""Delegation applied: while an approver is away their new card goes to the delegate (resolved
at planning, chains followed, never to the submitter), the approver is told, and the delegate's
click counts as the approver's vote, recorded "B for A" in the decision webhook."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.models import ActionStatus, ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts, states, trace


async def _away(stack: object, who: str, to: str) -> None:
    embedded, backend, _ = parts(stack)
    now = embedded.gateway.clock.now()
    body = {"account_id": who, "delegate_id": to, "ends_at": (now + timedelta(days=1)).isoformat()}
    assert (await backend.call("PUT", "/v1/me/delegation", body))[0] == 201


async def _submitted(stack: object, ticket: dict[str, Any]) -> dict[str, Any]:
    _, backend, _ = parts(stack)
    status, receipt = await backend.submit(ticket)
    assert status == 202, receipt

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend, ticket["ticket_id"]))

    await eventually(sent)
    return receipt  # type: ignore[no-any-return]


async def test_the_delegate_gets_the_card_and_votes_for_the_approver(stack: object) -> None:
    _, backend, memory = parts(stack)
    await _away(stack, "a1", "b7")
    receipt = await _submitted(stack, sample_ticket("T-DEL", [approver("a1", "Ann")]))
    card = receipt["deliveries"][0]
    assert card["account_id"] == "a1"
    assert [c.address for c in memory.cards.values()] == ["b7"]  # not Ann's own chat
    history = (await trace(backend, "T-DEL"))["deliveries"][0]["history"]
    assert "delegated: a1 -> b7" in history[0]["detail"]

    async def told() -> list[str]:
        return [text for address, text in memory.told if address == "a1"]

    notice = await eventually(told)
    assert "T-DEL" in notice[0] and "b7" in notice[0]

    # Ann's own identity no longer holds the card's authority; the delegate's does.
    click = await memory.click("b7", card["delivery_id"], ClickAction.APPROVE, "for Ann")
    assert click.result.status is ActionStatus.DECIDED
    decision = await backend.wait_for_decision("T-DEL")
    assert [(v["account_id"], v["display_name"]) for v in decision.body["votes"]] == [
        ("a1", "b7 for Ann")
    ]


async def test_the_chain_stops_before_the_submitter(stack: object) -> None:
    _, backend, memory = parts(stack)
    ticket = sample_ticket("T-SUB", [approver("a1", "Ann")])
    submitter = ticket["submitter"]["account_id"]
    await _away(stack, "a1", "b7")
    await _away(stack, "b7", submitter)
    await _submitted(stack, ticket)
    assert [c.address for c in memory.cards.values()] == ["b7"]
    detail = (await trace(backend, "T-SUB"))["deliveries"][0]["history"][0]["detail"]
    assert "submitted the request and cannot act on it" in detail


async def test_without_a_delegation_a_stranger_click_is_refused(stack: object) -> None:
    _, _, memory = parts(stack)
    receipt = await _submitted(stack, sample_ticket("T-NODEL", [approver("a1", "Ann")]))
    card = receipt["deliveries"][0]["delivery_id"]
    assert [c.address for c in memory.cards.values()] == ["a1"]
    refused = await memory.click("b7", card, ClickAction.APPROVE)
    assert refused.result.status is ActionStatus.NOT_APPROVER
