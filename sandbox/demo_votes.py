"""The demo's multi-approver hops: an all-of request decided by two approvers on two platforms,
each seeing the other's vote on their card, and a quorum request rejected as soon as its quorum
can no longer be reached. Each hop goes through the platforms' real callback protocols."""

from __future__ import annotations

import uuid
from typing import Any

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.demo import DemoFailed
from sandbox.demo import _all_in as all_in
from sandbox.demo import _say as say
from sandbox.demo import _until as until
from sandbox.embedded import Embedded
from sandbox.phone.read import dingtalk_card, lark_card
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket


def card_text(embedded: Embedded, seat: Seat) -> str:
    """What the seat's newest card says, as its phone draws it ("" for email and memory)."""
    held = embedded.platform_of(seat.channel).held(seat)
    if not held:
        return ""
    card = (lark_card if held[0].look == "lark" else dingtalk_card)(held[0].payload)
    lines = [card.subtitle]
    for block in card.blocks:
        lines += ["".join(span.text for span in line) for line in block.lines]
    return "\n".join(lines)


def _tally(embedded: Embedded, seat: Seat) -> str:
    return next((line for line in card_text(embedded, seat).splitlines() if " of " in line), "")


async def all_of(embedded: Embedded, first: Seat, second: Seat) -> None:
    """Two approvers on two platforms must both approve; each card shows the other's vote."""
    people = [first, second]
    ticket_id, deliveries = await _submit(embedded, people, {"rule": "all"}, "all of")
    await _vote(embedded, first, deliveries, ClickAction.APPROVE, "LGTM")

    async def shown() -> bool:
        return "1 of 2 approved" in _tally(embedded, second)

    await until(f"{second.display_name}'s card shows the first vote", shown)
    say("card redrawn", f"{second.display_name} on {second.channel}: “{_tally(embedded, second)}”")
    await _vote(embedded, second, deliveries, ClickAction.APPROVE, "ok")
    await _decided(embedded, ticket_id)


async def quorum(embedded: Embedded, people: list[Seat]) -> None:
    """Two of three must approve: the second rejection makes that impossible, and rejects."""
    ticket_id, deliveries = await _submit(
        embedded, people, {"rule": "quorum", "quorum": 2}, "quorum 2 of 3"
    )
    await _vote(embedded, people[0], deliveries, ClickAction.REJECT, "not during the sale")
    say("still pending", "one rejection: two approvals are still possible")
    await _vote(embedded, people[1], deliveries, ClickAction.REJECT, "too risky")
    await _decided(embedded, ticket_id)


async def _submit(
    embedded: Embedded, people: list[Seat], policy: dict[str, Any], label: str
) -> tuple[str, dict[str, str]]:
    backend = _backend(embedded)
    ticket_id = f"DMS-{uuid.uuid4().hex[:6].upper()}"
    ticket = sample_ticket(ticket_id, [approver(s.account_id, s.display_name) for s in people])
    status, receipt = await backend.submit({**ticket, "policy": policy})
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    names = ", ".join(f"{s.display_name} on {s.channel}" for s in people)
    print(f"Ticket {ticket_id} ({label}: {names})")
    await until("cards sent", lambda: all_in(backend, ticket_id, "sent"))
    say("cards sent", f"{len(people)} cards, each showing “{_tally(embedded, people[0])}”")
    return ticket_id, {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}


async def _vote(
    embedded: Embedded,
    seat: Seat,
    deliveries: dict[str, str],
    action: ClickAction,
    comment: str,
) -> None:
    platform = embedded.platform_of(seat.channel)
    outcome = await platform.click(seat, deliveries[seat.account_id], action, comment)
    button = "Approve" if action is ClickAction.APPROVE else f"Reject (“{comment}”)"
    say("vote", f"{seat.display_name} pressed {button} on {seat.channel} → “{outcome.toast}”")


async def _decided(embedded: Embedded, ticket_id: str) -> None:
    backend = _backend(embedded)
    decision = await backend.wait_for_decision(ticket_id)
    body = decision.body
    votes = ", ".join(
        f"{v['display_name']} {v['outcome']} on {v['channel']}" for v in body["votes"]
    )
    say("decision forwarded", f"one signed webhook: {body['decision']}, votes: {votes}")
    await until("cards updated", lambda: all_in(backend, ticket_id, "updated"))
    say("cards updated", "every card shows the outcome")
    print()


def _backend(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend
