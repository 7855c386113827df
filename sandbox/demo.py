"""``approval-gateway demo``: the whole flow on the embedded defaults, hop by hop.

Seats one approver on every sandbox channel, submits a sample ticket through the signed API,
waits for the cards, has the first approver approve over that platform's real callback protocol,
waits for the signed decision at the sandbox backend and for every card to show the outcome.
Exits non-zero if any hop does not happen in time.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.models import ClickAction
from bot.errors import GatewayError
from bot.settings.config import Settings, load_settings
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, sandbox_users, start
from sandbox.mail.platform import MailPlatform
from sandbox.phone.page import phone_url
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket

if TYPE_CHECKING:
    from sandbox.demo_time import Waiting

HOP_TIMEOUT = 20.0


class DemoFailed(GatewayError):
    """A hop of the demo did not happen."""

    code = "demo_failed"


def _say(step: str, text: str) -> None:
    print(f"  {step:<20} {text}", flush=True)


async def _until(what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HOP_TIMEOUT
    while loop.time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise DemoFailed(f"timed out waiting for: {what}")


async def run_demo(settings: Settings, *, keep: bool = False) -> None:
    """Start the embedded gateway, run the flow, print each hop."""
    embedded = await start(settings)
    try:
        await _flow(embedded)
        if keep:
            await _keep_serving(embedded)
    finally:
        await embedded.stop()


async def _keep_serving(embedded: Embedded) -> None:
    """Leave one ticket pending on every phone, print where the phones are, serve until Ctrl-C."""
    backend, url = embedded.backend, embedded.gateway.url
    assert backend is not None
    ticket_id = f"DMS-{uuid.uuid4().hex[:6].upper()}"
    status, receipt = await backend.submit(sample_ticket(ticket_id, _approvers(embedded.seats)))
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    await _until("cards sent", lambda: _all_in(backend, ticket_id, "sent"))
    print(f"Ticket {ticket_id} is waiting for you on the sandbox phones ({url}/sandbox/phone):")
    for seat in embedded.seats:
        if embedded.platform_of(seat.channel).held(seat):  # email and memory have no phone
            _say(seat.channel, f"{seat.display_name}: {phone_url(url, seat.account_id)}")
    print(f"\nGateway at {url} — Ctrl-C to stop.", flush=True)
    await asyncio.Event().wait()


def _approvers(seats: list[Seat]) -> list[dict[str, str]]:
    # The email seat is a role (SSO) account with no chat binding: chat cannot reach it, email can.
    return [
        approver(s.account_id, s.display_name, "role" if s.channel == "email" else "main")
        for s in seats
    ]


def _show_mail(embedded: Embedded, seat: Seat, console_url: str) -> None:
    platform = embedded.platform_of(seat.channel)
    if not isinstance(platform, MailPlatform) or not platform.catcher.messages(seat.address):
        return
    mail = platform.catcher.messages(seat.address)[-1]
    text = mail.get_body(preferencelist=("plain",))
    linked = text is not None and console_url in text.get_content()
    _say(
        "",
        f"mail “{str(mail['Subject']).strip()}” in the sandbox catcher"
        + (f", console link {console_url}" if linked else ", NO console link"),
    )


async def _seats(embedded: Embedded) -> list[Seat]:
    return [
        await embedded.seat(channel, account_id, name)
        for channel, account_id, name in sandbox_users(embedded.gateway.channels)
    ]


async def _flow(embedded: Embedded) -> None:
    print(f"Approval gateway demo — gateway {embedded.gateway.url}\n")
    seats = await _seats(embedded)
    real = [s for s in seats if s.channel not in ("memory", "email")] or seats
    # Two tickets, so both answers travel a real platform protocol: an approval on the first
    # real channel (Lark when it runs), a rejection with its reason on another one.
    first = next((s for s in real if s.channel == "lark"), real[0])
    waiting = await _leave_waiting(embedded, seats)
    await _ticket(embedded, seats, first, ClickAction.APPROVE, "LGTM")
    second = next((s for s in reversed(real) if s != first), first)
    await _ticket(embedded, seats, second, ClickAction.REJECT, "not during the sale")
    await _votes(embedded, seats, real)
    await _over_time(embedded, waiting, real)
    print("Done: one signed decision per ticket at the backend, every card shows the outcome.")


async def _votes(embedded: Embedded, seats: list[Seat], real: list[Seat]) -> None:
    # Imported here: the multi-approver hops use this module's helpers.
    from sandbox import demo_votes

    platforms = {s.channel.split("_")[0]: s for s in real}  # one seat per platform
    if len(platforms) >= 2:
        first, second = list(platforms.values())[:2]
        await demo_votes.all_of(embedded, first, second)
    chat = [s for s in seats if s.channel != "email"]
    if len(chat) >= 3:
        await demo_votes.quorum(embedded, chat[:3])


async def _leave_waiting(embedded: Embedded, seats: list[Seat]) -> Waiting | None:
    # First, so that its reminder and escalation come due while the other tickets run.
    from sandbox import demo_time

    seat = demo_time.timing_seat(seats)
    if seat is None or not demo_time.mail_runs(embedded):
        print("(no Lark and mail sandbox: the reminder and escalation hops are left out)\n")
        return None
    return await demo_time.leave_waiting(embedded, seat)


async def _over_time(embedded: Embedded, waiting: Waiting | None, real: list[Seat]) -> None:
    from sandbox import demo_time

    if waiting is not None:
        await demo_time.reminded(embedded, waiting)
    delegate = demo_time.timing_seat(real) or real[-1]
    away = next((s for s in real if s.account_id != delegate.account_id), None)
    if away is not None:
        await demo_time.delegated(embedded, away, delegate)


async def _ticket(
    embedded: Embedded, seats: list[Seat], clicker: Seat, action: ClickAction, comment: str
) -> None:
    backend = embedded.backend
    assert backend is not None
    ticket_id = f"DMS-{uuid.uuid4().hex[:6].upper()}"
    ticket = sample_ticket(ticket_id, _approvers(seats))
    status, receipt = await backend.submit(ticket)
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    print(f"Ticket {ticket_id}")
    _say("request accepted", f"202, {len(receipt['deliveries'])} deliveries planned")
    deliveries = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}
    await _until("cards sent", lambda: _all_in(backend, ticket_id, "sent"))
    via = {d["account_id"]: d["channel"] for d in (await backend.trace(ticket_id))[1]["deliveries"]}
    for seat in seats:
        _say("card sent", f"{seat.display_name} ({seat.account_id}) via {via[seat.account_id]}")
        _show_mail(embedded, seat, ticket["console_url"])
    await _decide(embedded, clicker, deliveries[clicker.account_id], ticket_id, action, comment)
    await _until("cards updated", lambda: _all_in(backend, ticket_id, "updated"))
    for seat in seats:
        state = embedded.platform_of(seat.channel).card_state(seat, deliveries[seat.account_id])
        _say("card updated", f"{seat.display_name} on {seat.channel}: {state}")
    print()


async def _decide(
    embedded: Embedded,
    seat: Seat,
    delivery_id: str,
    ticket_id: str,
    action: ClickAction,
    comment: str,
) -> None:
    backend = embedded.backend
    assert backend is not None
    platform = embedded.platform_of(seat.channel)
    outcome = await platform.click(seat, delivery_id, action, comment)
    button = "Approve" if action is ClickAction.APPROVE else f"Reject (“{comment}”)"
    _say("click", f"{seat.display_name} pressed {button} on {seat.channel} → “{outcome.toast}”")
    decision = await backend.wait_for_decision(ticket_id, HOP_TIMEOUT)
    body = decision.body
    _say(
        "decision forwarded",
        f"signed webhook {decision.webhook_id[:8]}…: {body['decision']} by "
        f"{body['approver']['display_name']} via {body['channel']}, verified by the backend",
    )


async def _all_in(backend: SandboxBackend, ticket_id: str, state: str) -> bool:
    status, body = await backend.trace(ticket_id)
    return status == 200 and all(d["state"] == state for d in body["deliveries"])


def main(keep: bool, config: Path | None, *, keep_data: bool = False) -> int:
    """Entry point of ``approval-gateway demo``.

    The demo's database and generated secrets live in a fresh temporary directory, removed at
    the end (also after a failure or Ctrl-C) unless ``keep_data``; then its path is printed.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="approval-gateway-demo-"))
    try:
        settings = load_settings(
            config,
            data_dir=data_dir,
            listen="127.0.0.1:0",
            sandbox=True,
            backend_url=None,
            email={"closing_emails": True},  # so the email approver also sees the outcome
            # The reminder hop runs now, whatever the hour: quiet hours would hold it back.
            reminders={"quiet_hours": None},
        )
        asyncio.run(run_demo(settings, keep=keep))
    finally:
        if keep_data:
            print(
                f"\nThe demo's data (gateway.db, master.key, backend_secret) is kept in {data_dir}"
            )
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
