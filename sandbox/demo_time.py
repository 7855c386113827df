"""The demo's hops over time: a ticket nobody answers gets a reminder (Lark in-app urgency on
the original card) and then an email escalation, and an approver away has a delegate vote for
them. Each goes through the public surface: the signed API, the platforms' real protocols.

The timed ticket is submitted first and left waiting while the other tickets run, so its
reminder and escalation (seconds apart, ``REMIND_AFTER`` and ``ESCALATE_AFTER``) add little to
the demo's length; ``await`` on them afterwards only waits for what is not there yet.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.demo import DemoFailed
from sandbox.demo import _all_in as all_in
from sandbox.demo import _say as say
from sandbox.demo import _until as until
from sandbox.embedded import Embedded
from sandbox.lark.platform import LarkPlatform
from sandbox.mail.platform import MailPlatform, sandbox_address
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket

# ISO 8601 durations, as a backend writes them; seconds keep the demo short.
REMIND_AFTER = "PT3S"
ESCALATE_AFTER = "PT6S"
ESCALATION_SUBJECT = "Waiting for your decision"  # bot.core.nudges


@dataclass(frozen=True)
class Waiting:
    """The ticket left unanswered: whose card it is, and where their email goes."""

    ticket_id: str
    seat: Seat
    delivery_id: str
    address: str
    submitted: datetime


async def leave_waiting(embedded: Embedded, seat: Seat) -> Waiting:
    """Submit a ticket to ``seat`` (on Lark) with a reminder and an email escalation, and
    leave it unanswered."""
    backend = _backend(embedded)
    # The approver's email on file, so an email escalation has somewhere to go; the card
    # itself still goes to Lark, first in the deployment's channel order.
    address = sandbox_address(seat.account_id)
    gateway = embedded.gateway
    await gateway.bindings.set(
        seat.account_id, "email", address, by="sandbox", method="sandbox", at=gateway.clock.now()
    )
    ticket_id = f"DMS-{_tag()}"
    ticket = {
        **sample_ticket(ticket_id, [approver(seat.account_id, seat.display_name)]),
        "reminders": {"after": REMIND_AFTER, "urgent": "app"},
        "escalation": [{"after": ESCALATE_AFTER, "notify": "email"}],
    }
    submitted = datetime.now(UTC)
    status, receipt = await backend.submit(ticket)
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    print(f"Ticket {ticket_id} (approvals over time: {seat.display_name} on {seat.channel})")
    say(
        "request accepted",
        f"reminder after {REMIND_AFTER} with in-app urgency, email escalation after "
        f"{ESCALATE_AFTER}; nobody answers it while the next tickets run",
    )
    await until("card sent", lambda: all_in(backend, ticket_id, "sent"))
    print()
    delivery_id = receipt["deliveries"][0]["delivery_id"]
    return Waiting(ticket_id, seat, delivery_id, address, submitted)


async def reminded(embedded: Embedded, waiting: Waiting) -> None:
    """The reminder and the escalation went out; then the approver approves."""
    print(f"Ticket {waiting.ticket_id}, still unanswered")
    lark = embedded.platform_of(waiting.seat.channel)
    if not isinstance(lark, LarkPlatform):
        raise DemoFailed(f"{waiting.seat.channel} is not the Lark sandbox")
    message_id = lark.message_of(waiting.seat, waiting.delivery_id).message_id

    async def urged() -> list[str]:
        return [u.kind for u in lark.app().urgent.sent if u.message_id == message_id]

    kinds = await until("the reminder's urgency on the Lark card", urged)
    hop = await _hop(embedded, waiting, "reminder 1")
    say("reminder", f"{_after(waiting, hop)}: {hop['detail']}")
    say("", f"Lark urgent_{kinds[0]} on message {message_id} (the sandbox's urgent log)")
    mail = await _escalation_mail(embedded, waiting)
    # Escalation steps are named by their index in the request's ``escalation`` list.
    hop = await _hop(embedded, waiting, "escalation 0")
    say("escalation", f"{_after(waiting, hop)}: {hop['detail']}")
    say("", f"mail “{mail}” in the sandbox catcher")
    await _approve(embedded, waiting.seat, waiting.ticket_id, waiting.delivery_id)
    decision = await _backend(embedded).wait_for_decision(waiting.ticket_id)
    body = decision.body
    say(
        "decision forwarded",
        f"signed webhook: {body['decision']} by {body['approver']['display_name']} "
        f"via {body['channel']}",
    )
    print()


async def delegated(embedded: Embedded, away: Seat, delegate: Seat) -> None:
    """``away`` names ``delegate`` through ``/v1/me/delegation``; their next card goes to the
    delegate, whose approval reaches the backend as "delegate for away"."""
    backend = _backend(embedded)
    ends = datetime.now(UTC) + timedelta(hours=1)
    status, body = await backend.call(
        "PUT",
        "/v1/me/delegation",
        {
            "account_id": away.account_id,
            "delegate_id": delegate.account_id,
            "ends_at": ends.isoformat(),
        },
    )
    if status != 201:
        raise DemoFailed(f"delegation refused: {status} {body}")
    ticket_id = f"DMS-{_tag()}"
    print(f"Ticket {ticket_id} (delegation: {away.display_name} is away)")
    say(
        "delegation set",
        f"PUT /v1/me/delegation: {delegate.display_name} ({delegate.account_id}) acts for "
        f"{away.display_name} ({away.account_id}) for an hour",
    )
    try:
        await _delegated_ticket(embedded, ticket_id, away, delegate)
    finally:
        path = f"/v1/me/delegation?account_id={away.account_id}"
        status, body = await backend.call("DELETE", path)
    if status != 204:
        raise DemoFailed(f"delegation not cleared: {status} {body}")
    say("delegation ended", f"DELETE /v1/me/delegation: {away.display_name} is back")
    print()


async def _delegated_ticket(embedded: Embedded, ticket_id: str, away: Seat, delegate: Seat) -> None:
    backend = _backend(embedded)
    status, receipt = await backend.submit(
        sample_ticket(ticket_id, [approver(away.account_id, away.display_name)])
    )
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    delivery_id = receipt["deliveries"][0]["delivery_id"]
    await until("card sent", lambda: all_in(backend, ticket_id, "sent"))
    if embedded.platform_of(delegate.channel).card_state(delegate, delivery_id) is None:
        raise DemoFailed(f"{delegate.display_name} holds no card for {away.display_name}")
    history = (await backend.trace(ticket_id))[1]["deliveries"][0]["history"]
    say(
        "card sent",
        f"{away.display_name}'s card went to {delegate.display_name} on {delegate.channel} "
        f"(trace: “{history[0]['detail']}”)",
    )
    await _approve(embedded, delegate, ticket_id, delivery_id)
    decision = await backend.wait_for_decision(ticket_id)
    votes = [(v["account_id"], v["display_name"]) for v in decision.body["votes"]]
    expected = (away.account_id, f"{delegate.account_id} for {away.display_name}")
    if votes != [expected]:
        raise DemoFailed(f"the webhook's votes are {votes}, not {[expected]}")
    say(
        "decision forwarded",
        f"signed webhook: {decision.body['decision']}, vote of {expected[0]} "
        f"by “{expected[1]}”, as the backend received it",
    )


async def _approve(embedded: Embedded, seat: Seat, ticket_id: str, delivery_id: str) -> None:
    outcome = await embedded.platform_of(seat.channel).click(
        seat, delivery_id, ClickAction.APPROVE, "ok"
    )
    say("click", f"{seat.display_name} pressed Approve on {seat.channel} → “{outcome.toast}”")


async def _escalation_mail(embedded: Embedded, waiting: Waiting) -> str:
    mail = next(p for p in embedded.platforms if isinstance(p, MailPlatform))

    async def escalated() -> str:
        subjects = [str(m["Subject"]).strip() for m in mail.catcher.messages(waiting.address)]
        return next((s for s in subjects if s.startswith(ESCALATION_SUBJECT)), "")

    subject: str = await until("the escalation email", escalated)
    return subject


async def _hop(embedded: Embedded, waiting: Waiting, label: str) -> dict[str, Any]:
    """The card's history line of the step ``label`` (the step writes it after sending)."""
    backend = _backend(embedded)

    async def found() -> dict[str, Any] | None:
        history = (await backend.trace(waiting.ticket_id))[1]["deliveries"][0]["history"]
        return next((h for h in history if h["detail"].startswith(label)), None)

    hop: dict[str, Any] = await until(f"the card's history to show {label}", found)
    return hop


def _after(waiting: Waiting, hop: dict[str, Any]) -> str:
    seconds = (datetime.fromisoformat(hop["at"]) - waiting.submitted).total_seconds()
    return f"{seconds:.1f} s after submission"


def _tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def _backend(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


def timing_seat(seats: list[Seat]) -> Seat | None:
    """The seat the timed ticket goes to: a Lark one (its cards can be made urgent)."""
    return next((s for s in seats if s.channel == "lark"), None)


def mail_runs(embedded: Embedded) -> bool:
    """Whether the sandbox mail catcher runs (the escalation emails land there)."""
    return any(isinstance(p, MailPlatform) for p in embedded.platforms)
