"""Hand-over (转交) through the signed API: an approver who has not voted hands the request to a
colleague, who replaces them in the open stage, gets a card, and votes under their own name; the
approver's card says to whom it went and takes no more clicks; the trace and audit record it.
Each refusal is a 4xx naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.models import ActionStatus, ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts, run_cli, states, trace

BO = {"account_id": "b7", "display_name": "Bo"}


async def _submitted(stack: object, ticket: dict[str, Any]) -> dict[str, str]:
    _, backend, _ = parts(stack)
    status, receipt = await backend.submit(ticket)
    assert status == 202, receipt

    async def sent() -> bool:
        return set(await states(backend, ticket["ticket_id"])) == {"sent"}

    await eventually(sent)
    return {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}


async def _hand_over(stack: object, ticket_id: str, giver: str, to: Any) -> tuple[int, Any]:
    _, backend, _ = parts(stack)
    body = {"account_id": giver, "to": to}
    return await backend.call("POST", f"/v1/approvals/{ticket_id}/hand-over", body)


def _all_of(ticket_id: str) -> dict[str, Any]:
    ticket = sample_ticket(ticket_id, [approver("a1", "Ann"), approver("a2", "Cy")])
    ticket["policy"] = {"rule": "all"}
    return ticket


async def test_the_colleague_replaces_the_approver_and_votes_as_themself(stack: object) -> None:
    embedded, backend, memory = parts(stack)
    cards = await _submitted(stack, _all_of("T-HAND"))
    status, body = await _hand_over(stack, "T-HAND", "a1", BO)
    assert status == 200, body
    assert [a["account_id"] for a in body["awaited"]] == ["b7", "a2"]  # in Ann's place
    assert body["joined"][0] | {"at": None} == {
        "account_id": "b7",
        "display_name": "Bo",
        "how": "handed_over",
        "stage": 1,
        "replaces": "a1",
        "by": "a1",
        "at": None,
    }
    bo_card = next(d["delivery_id"] for d in body["deliveries"] if d["account_id"] == "b7")
    await memory.wait_for(bo_card)
    assert memory.cards[bo_card].address == "b7"

    async def ann_told() -> bool:
        view = memory.cards[cards["a1"]].view
        return view.handed_to == "Bo"

    await eventually(ann_told)
    own = await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    assert own.result.status is ActionStatus.HANDED_OVER
    assert own.toast == "You handed this request over to Bo."

    await memory.click("a2", cards["a2"], ClickAction.APPROVE)
    assert backend.decisions == []  # the all-of needs Bo now, not Ann
    done = await memory.click("b7", bo_card, ClickAction.APPROVE)
    assert done.result.status is ActionStatus.DECIDED
    decision = await backend.wait_for_decision("T-HAND")
    assert [(v["account_id"], v["display_name"]) for v in decision.body["votes"]] == [
        ("a2", "Cy"),
        ("b7", "Bo"),
    ]
    deliveries = (await trace(backend, "T-HAND"))["deliveries"]
    history = next(d["history"] for d in deliveries if d["delivery_id"] == cards["a1"])
    assert "handed over to Bo (b7)" in [h["detail"] for h in history]
    data = embedded.gateway.settings.data_dir
    code, out, _ = await run_cli("audit", "--action", "request.hand_over", data_dir=data)
    assert code == 0 and "T-HAND" in out and "to b7" in out, out


@pytest.mark.parametrize(
    ("giver", "to", "status", "field"),
    [
        ("a1", {"account_id": "sub1", "display_name": "Sam"}, 422, "to.account_id"),
        ("a1", {"account_id": "a2"}, 422, "to.account_id"),  # already an approver
        ("a1", {"account_id": "a1"}, 422, "to.account_id"),  # themself
        ("zz", BO, 409, "account_id"),  # not an approver
        ("a1", {"account_id": "bad id!"}, 422, "to.account_id"),
    ],
)
async def test_a_refused_hand_over_names_the_field_and_changes_nothing(
    stack: object, giver: str, to: Any, status: int, field: str
) -> None:
    _, backend, _ = parts(stack)
    ticket = _all_of("T-NO")
    ticket["submitter"]["account_id"] = "sub1"
    await _submitted(stack, ticket)
    got, body = await _hand_over(stack, "T-NO", giver, to)
    assert got == status, body
    assert field in body["error"]["fields"], body
    after = await trace(backend, "T-NO")
    assert after["joined"] == [] and len(after["deliveries"]) == 2


async def test_one_who_voted_cannot_hand_over_nor_anyone_once_closed(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submitted(stack, _all_of("T-LATE"))
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    status, body = await _hand_over(stack, "T-LATE", "a1", BO)
    assert status == 409 and "already voted" in body["error"]["fields"]["account_id"], body
    await memory.click("a2", cards["a2"], ClickAction.APPROVE)
    await backend.wait_for_decision("T-LATE")
    status, body = await _hand_over(stack, "T-LATE", "a2", BO)
    assert status == 409 and "approved" in body["error"]["fields"]["ticket_id"], body
    status, body = await _hand_over(stack, "T-NONE", "a1", BO)
    assert status == 404, body
