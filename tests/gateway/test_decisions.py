"""Decisions: the first valid one wins, is forwarded exactly once, and every card shows it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.models import ActionStatus, ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts, states, trace

TWO = [approver("a1", "Ann"), approver("a2", "Bob", "ram")]


async def _submit(stack: object, ticket_id: str, **kw: object) -> dict[str, str]:
    """Submit and wait until every card is out; returns account -> delivery id."""
    _, backend, _ = parts(stack)
    status, receipt = await backend.submit(sample_ticket(ticket_id, TWO, **kw))  # type: ignore[arg-type]
    assert status == 202, receipt

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend, ticket_id))

    await eventually(sent)
    return {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}


async def test_approval_is_forwarded_signed_and_every_card_updated(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-OK")
    click = await memory.click("a1", cards["a1"], ClickAction.APPROVE, "ship it")
    assert click.result.status is ActionStatus.DECIDED
    decision = await backend.wait_for_decision("T-OK")
    assert decision.body["decision"] == "approved"
    assert decision.body["approver"] == {"account_id": "a1", "display_name": "Ann"}
    assert decision.body["comment"] == "ship it" and decision.body["channel"] == "memory"

    async def all_done() -> bool:
        # The backend has the decision before the worker commits "forwarded": wait for both.
        body = await trace(backend, "T-OK")
        forwarded = body["decision"]["forward_state"] == "forwarded"
        return forwarded and [d["state"] for d in body["deliveries"]] == ["updated", "updated"]

    await eventually(all_done)
    assert {c.view.state for c in memory.cards.values()} == {"approved"}
    assert all(c.view.decision and c.view.decision.by == "Ann" for c in memory.cards.values())
    assert (await trace(backend, "T-OK"))["status"] == "approved"


async def test_reject_needs_a_reason(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-REJ")
    bare = await memory.click("a2", cards["a2"], ClickAction.REJECT)
    assert bare.result.status is ActionStatus.REASON_REQUIRED
    assert (await trace(backend, "T-REJ"))["status"] == "pending"
    reasoned = await memory.click("a2", cards["a2"], ClickAction.REJECT, "no index in peak hours")
    assert reasoned.result.status is ActionStatus.DECIDED
    decision = await backend.wait_for_decision("T-REJ")
    assert decision.body["decision"] == "rejected"
    assert decision.body["comment"] == "no index in peak hours"


async def test_a_later_click_is_told_who_decided(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-LATE")
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    late = await memory.click("a2", cards["a2"], ClickAction.REJECT, "too late")
    assert late.result.status is ActionStatus.ALREADY_DECIDED
    assert "Ann" in late.toast
    await backend.wait_for_decision("T-LATE")
    await asyncio.sleep(0.3)
    assert len(backend.decisions) == 1


async def test_someone_else_clicking_a_card_changes_nothing(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-NOT")
    stranger = await memory.click("mallory", cards["a1"], ClickAction.APPROVE)
    assert stranger.result.status is ActionStatus.NOT_APPROVER
    assert (await trace(backend, "T-NOT"))["status"] == "pending"
    assert backend.attempts == []


async def test_two_concurrent_clicks_yield_one_decision(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-RACE")
    results = await asyncio.gather(
        memory.click("a1", cards["a1"], ClickAction.APPROVE),
        memory.click("a2", cards["a2"], ClickAction.REJECT, "no"),
    )
    statuses = sorted(r.result.status.value for r in results)
    assert statuses == ["already_decided", "decided"]
    await backend.wait_for_decision("T-RACE")
    await asyncio.sleep(0.3)
    assert len(backend.decisions) == 1
    assert len({a.webhook_id for a in backend.attempts}) == 1


async def test_forwarded_exactly_once_while_the_backend_fails_three_times(stack: object) -> None:
    _, backend, memory = parts(stack)
    backend.faults.fail_next = 3
    cards = await _submit(stack, "T-FLAKY")
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    await backend.wait_for_decision("T-FLAKY")
    await asyncio.sleep(0.3)
    assert [a.status for a in backend.attempts] == [503, 503, 503, 200]
    assert len({a.webhook_id for a in backend.attempts}) == 1
    assert len(backend.decisions) == 1


async def test_backend_409_ends_the_job(stack: object) -> None:
    _, backend, memory = parts(stack)
    backend.faults.conflict = True
    cards = await _submit(stack, "T-409")
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)

    async def forwarded() -> bool:
        return (await trace(backend, "T-409"))["decision"]["forward_state"] == "forwarded"

    await eventually(forwarded)
    await asyncio.sleep(0.3)
    assert [a.status for a in backend.attempts] == [409]


async def test_a_permanent_refusal_shows_could_not_submit_on_every_card(stack: object) -> None:
    _, backend, memory = parts(stack)
    backend.faults.reject_status = 422
    cards = await _submit(stack, "T-422")
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)

    async def failed() -> dict[str, object] | None:
        body = await trace(backend, "T-422")
        return body if body["decision"]["forward_state"] == "failed" else None

    body = await eventually(failed)
    assert "422" in body["decision"]["forward_detail"]  # type: ignore[index]

    async def cards_failed() -> bool:
        return {c.view.state for c in memory.cards.values()} == {"failed"}

    await eventually(cards_failed)
    assert [a.status for a in backend.attempts] == [422]


async def test_a_withdrawn_request_takes_no_decision(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-WD")
    status, body = await backend.withdraw("T-WD")
    assert status == 200 and body["status"] == "withdrawn"
    click = await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    assert click.result.status is ActionStatus.CLOSED
    assert "withdrawn" in click.toast

    async def updated() -> bool:
        return {c.view.state for c in memory.cards.values()} == {"withdrawn"}

    await eventually(updated)
    assert backend.attempts == []
    assert (await backend.withdraw("T-WD"))[0] == 200  # idempotent


async def test_decided_in_the_console_updates_cards_without_forwarding(stack: object) -> None:
    _, backend, memory = parts(stack)
    await _submit(stack, "T-CON")
    status, body = await backend.withdraw(
        "T-CON",
        {
            "reason": "decided",
            "outcome": "approved",
            "decided_by": {"account_id": "boss", "display_name": "The Boss"},
        },
    )
    assert status == 200 and body["status"] == "approved"
    assert body["decision"]["forward_state"] == "not_needed"

    async def updated() -> bool:
        return {c.view.state for c in memory.cards.values()} == {"approved"}

    await eventually(updated)
    assert backend.attempts == []


async def test_withdrawing_a_decided_request_is_a_conflict(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-WD2")
    await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    status, body = await backend.withdraw("T-WD2")
    assert status == 409 and "approved" in body["error"]["message"]


async def test_an_expired_request_takes_no_decision(stack: object) -> None:
    _, backend, memory = parts(stack)
    cards = await _submit(stack, "T-EXP", expires_in=timedelta(seconds=2))

    async def expired() -> bool:
        return (await trace(backend, "T-EXP"))["status"] == "expired"

    await eventually(expired)
    click = await memory.click("a1", cards["a1"], ClickAction.APPROVE)
    assert click.result.status is ActionStatus.CLOSED

    async def updated() -> bool:
        return {c.view.state for c in memory.cards.values()} == {"expired"}

    await eventually(updated)
    assert backend.attempts == []


async def test_an_unknown_card_is_answered_not_crashed(stack: object) -> None:
    _, _, memory = parts(stack)
    click = await memory.click("a1", "no-such-delivery", ClickAction.APPROVE)
    assert click.result.status is ActionStatus.UNKNOWN_CARD
