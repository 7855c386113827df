"""DingTalk's per-API QPS through the channel's send budgets, against the sandbox app enforcing
it (403 QPS limit past the limit in any second): a burst of cards is paced under the limit, so
the platform refuses none and every card is delivered."""

from __future__ import annotations

from pathlib import Path

from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually

PLATFORM_QPS, BUDGET_QPS, CARDS = 5, 4, 12  # small numbers: a few seconds of pacing


async def test_a_burst_of_cards_stays_under_the_apis_qps(tmp_path: Path) -> None:
    dingtalk = {"qps": BUDGET_QPS, "per_second": PLATFORM_QPS, "throttle_retry_seconds": 0.1}
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"], dingtalk=dingtalk)
    embedded = await start(settings)
    try:
        platform = embedded.platform_of("dingtalk")
        assert isinstance(platform, DingTalkPlatform) and embedded.backend is not None
        sandbox = platform.sandboxes["dingtalk"]
        sandbox.limit_qps(PLATFORM_QPS)
        await sandbox.wait_connected()
        seats = [await embedded.seat("dingtalk", f"d{i}", f"D {i}") for i in range(CARDS)]
        ticket = sample_ticket("T-DT", [approver(s.account_id, s.display_name) for s in seats])
        assert (await embedded.backend.submit(ticket))[0] == 202

        async def all_out() -> bool:
            return all(sandbox.cards(s.address) for s in seats)

        await eventually(all_out, within=30)
    finally:
        await embedded.stop()
    assert sandbox.qps_refused == 0
