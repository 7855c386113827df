"""The Lark channel's outbound calls: one HTTP session per app, and send budgets that let a
throttled receiver hold up no one else.

Through the sandbox Lark app enforcing the platform's limits (5 sends/s per user, 50/s per API):
one approver has a backlog of cards, then a ticket goes to twenty others. Their cards must all be
out while most of the backlog still waits for its owner's budget (ordering, not a stopwatch),
and the platform never refuses a send.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.embedded import start
from sandbox.lark.platform import LarkPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually

HOT_CARDS, OTHERS = 30, 20
SEND_SLOTS = 8  # the outbox's default send concurrency
CREATE = "/open-apis/im/v1/messages"


async def test_a_receivers_spent_budget_does_not_hold_up_the_others(tmp_path: Path) -> None:
    lark = {"throttle_retry_seconds": 0.1}
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark"], lark=lark)
    embedded = await start(settings)
    try:
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform) and embedded.backend is not None
        sandbox = platform.app()
        sandbox.limit_user_qps(5)
        sandbox.limit_app_qps(50)
        await sandbox.wait_connected()
        hot = await embedded.seat("lark", "hot", "Hot")
        others = [await embedded.seat("lark", f"o{i}", f"O {i}") for i in range(OTHERS)]
        for i in range(HOT_CARDS):
            ticket = sample_ticket(f"T-HOT-{i}", [approver("hot", "Hot")])
            assert (await embedded.backend.submit(ticket))[0] == 202
        ticket = sample_ticket("T-ALL", [approver(s.account_id, s.display_name) for s in others])
        assert (await embedded.backend.submit(ticket))[0] == 202

        async def others_out() -> bool:
            return all(sandbox.cards(s.address) for s in others)

        await eventually(others_out, within=30)
        hot_out = len(sandbox.cards(hot.address))

        async def backlog_out() -> bool:
            return len(sandbox.cards(hot.address)) == HOT_CARDS

        await eventually(backlog_out, within=60)
    finally:
        await embedded.stop()
    # Before, the backlog's jobs sat in every send slot waiting for the hot user's limiter, and
    # the others' cards went out only once nearly all of it had.
    assert hot_out < HOT_CARDS // 2, hot_out
    sends = [r for r in sandbox.requests_log if r.method == "POST" and r.path == CREATE]
    assert all(r.code == 0 for r in sends), [r.code for r in sends if r.code]


async def test_calls_reuse_the_apps_connections(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark"])
    embedded = await start(settings)
    try:
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform) and embedded.backend is not None
        sandbox = platform.app()
        seats = [await embedded.seat("lark", f"a{i}", f"A {i}") for i in range(OTHERS)]
        ticket = sample_ticket("T-POOL", [approver(s.account_id, s.display_name) for s in seats])
        assert (await embedded.backend.submit(ticket))[0] == 202

        async def all_out() -> bool:
            return all(sandbox.cards(s.address) for s in seats)

        await eventually(all_out, within=30)
    finally:
        await embedded.stop()
    calls = [r for r in sandbox.requests_log if r.path.startswith("/open-apis/")]
    ports = {r.connection for r in calls}
    # One session per app: the token fetch and twenty sends share at most one connection per
    # send slot (a client per call, as lark-oapi's transport makes, opens one per call).
    assert len(calls) > OTHERS and None not in ports and len(ports) <= SEND_SLOTS, ports
