"""``approval-gateway demo``: the whole flow on the embedded defaults, hop by hop.

Submits a sample ticket with two approvers through the signed API, waits for their cards, has one
approver approve, waits for the signed decision at the sandbox backend and for every card to show
the outcome. Exits non-zero if any hop does not happen in time.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.core.models import ClickAction
from bot.embedded import Embedded, start
from bot.errors import GatewayError
from bot.sandbox.tickets import approver, sample_ticket

HOP_TIMEOUT = 15.0


class DemoFailed(GatewayError):
    """A hop of the demo did not happen."""

    code = "demo_failed"


def _say(step: str, text: str) -> None:
    print(f"  {step:<22} {text}", flush=True)


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
    """Run the flow against a started embedded gateway, printing each hop."""
    embedded = await start(settings)
    try:
        await _flow(embedded)
        if keep:
            print(f"\nGateway at {embedded.gateway.url} — Ctrl-C to stop.", flush=True)
            await asyncio.Event().wait()
    finally:
        await embedded.stop()


async def _flow(embedded: Embedded) -> None:
    backend, memory = embedded.backend, embedded.memory
    assert backend is not None and memory is not None
    ticket_id = f"DMS-{uuid.uuid4().hex[:6].upper()}"
    print(f"Approval gateway demo — gateway {embedded.gateway.url}, ticket {ticket_id}\n")
    ticket = sample_ticket(
        ticket_id, [approver("2001", "Li Na"), approver("2002", "Wang Wei", "ram")]
    )
    status, receipt = await backend.submit(ticket)
    if status != 202:
        raise DemoFailed(f"submission refused: {status} {receipt}")
    _say("request accepted", f"202, {len(receipt['deliveries'])} deliveries planned")

    async def trace() -> dict[str, Any]:
        return (await backend.trace(ticket_id))[1]  # type: ignore[no-any-return]

    async def all_in(*states: str) -> bool:
        return all(d["state"] in states for d in (await trace())["deliveries"])

    await _until("cards sent", lambda: all_in("sent"))
    for d in (await trace())["deliveries"]:
        _say("card sent", f"{d['account_id']} via {d['channel']}")
    first = receipt["deliveries"][0]
    click = await memory.click(
        first["account_id"], first["delivery_id"], ClickAction.APPROVE, "LGTM"
    )
    _say("click", f"{first['account_id']} pressed Approve → “{click.toast}”")
    decision = await backend.wait_for_decision(ticket_id, HOP_TIMEOUT)
    body = decision.body
    _say(
        "decision forwarded",
        f"signed webhook {decision.webhook_id[:8]}… {body['decision']} "
        f"by {body['approver']['display_name']} arrived at the sandbox backend",
    )
    await _until("cards updated", lambda: all_in("updated"))
    for card in memory.cards.values():
        _say(
            "card updated",
            f"{card.address}: {card.view.state} by {card.view.decision.by if card.view.decision else '-'}",
        )
    attempts = [a for a in backend.attempts if a.webhook_id == decision.webhook_id]
    print(f"\nDone: one decision, {len(attempts)} delivery attempt(s), all cards final.")


def main(keep: bool, config: Path | None) -> int:
    """Entry point of ``approval-gateway demo``."""
    data_dir = Path(tempfile.mkdtemp(prefix="approval-gateway-demo-"))
    settings = load_settings(
        config, data_dir=data_dir, listen="127.0.0.1:0", sandbox=True, backend_url=None
    )
    asyncio.run(run_demo(settings, keep=keep))
    return 0
