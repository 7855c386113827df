"""Through the gateway: a request nobody decided is rejected at its deadline, and the backend
receives exactly one decision webhook, ``decided_by: "policy"`` (the clock is moved, not waited)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts
from tests.support.clock import MovableClock


async def test_the_backend_gets_one_policy_decision_at_the_deadline(tmp_path: Path) -> None:
    clock = MovableClock()
    embedded = await start(fast_settings(tmp_path / "data"), clock=clock)
    try:
        _, backend, _ = parts(embedded)
        ticket = {**sample_ticket("T-POLICY", [approver("a1", "Ann")]), "on_expiry": "reject"}
        status, body = await backend.submit(ticket)
        assert status == 202, body
        clock.advance(timedelta(hours=4, seconds=1))  # past expires_at (sample: 4 h)
        received = await backend.wait_for_decision("T-POLICY")
        assert received.body["decision"] == "rejected"
        assert received.body["decided_by"] == "policy"

        service = embedded.gateway.service  # the signed API's window follows the wall clock

        async def forwarded() -> bool:
            decision = (await service.get("T-POLICY")).decision
            return decision is not None and decision.forward_state == "forwarded"

        await eventually(forwarded)
        assert await service.expire_due() == 0  # a later sweep: nothing more
        assert [d.ticket_id for d in backend.decisions] == ["T-POLICY"]
        assert (await service.get("T-POLICY")).status == "rejected"
    finally:
        await embedded.stop()
