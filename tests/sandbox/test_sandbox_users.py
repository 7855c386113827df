"""Plain ``serve`` with the sandbox on seats the demo's sandbox users: support can bind an
account to one of them and the card reaches that user's sandbox phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox.embedded import Embedded, sandbox_users, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import call, token
from tests.gateway.helpers import eventually, trace


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk", "lark", "mail"])
    embedded = await start(settings)  # what `serve` starts; nobody is seated by a test here
    try:
        yield embedded
    finally:
        await embedded.stop()


async def test_the_demo_users_are_seated_and_bindable(served: Embedded) -> None:
    gateway = served.gateway
    users = sandbox_users(gateway.channels)
    assert [(s.channel, s.account_id, s.display_name) for s in served.seats] == users
    async with aiohttp.ClientSession() as s, s.get(f"{gateway.url}/sandbox/phone") as r:
        index = await r.text()
    for seat in served.seats:
        assert seat.address in index and seat.display_name in index

    admin = await token(gateway, "admin")
    for channel in ("lark", "dingtalk"):
        seat = next(s for s in served.seats if s.channel == channel)
        account = f"support-{channel}"
        body = {"channel": channel, "address": seat.address}
        status, answer = await call(gateway, "PUT", f"/v1/bindings/{account}", admin, body)
        assert status == 200, answer
        assert served.backend is not None
        ticket = sample_ticket(f"T-{channel}", [approver(account, "Support")])
        status, _ = await served.backend.submit(ticket)
        assert status == 202

        async def delivered(ticket_id: str = ticket["ticket_id"]) -> bool:
            body = await trace(served.backend, ticket_id)  # type: ignore[arg-type]
            return all(d["state"] == "sent" for d in body["deliveries"])

        await eventually(delivered)
        held = served.platform_of(channel).held(seat)
        assert held, f"no card on the {channel} seat {seat.address}"
