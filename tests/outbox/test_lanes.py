"""Outbox lanes: decision forwards, card updates and card sends never wait behind one another,
nor one platform's card updates behind another's.

Each test fills one lane to the brim through the sandbox (a backend that holds every webhook, a
card backlog behind the sandbox Lark app's rate limit) and shows the other lanes' work is done
while that lane is still full: ordering, not a stopwatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.lark.sandbox import LarkSandbox
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts, states

# More decisions than the whole worker once had slots for (8, shared by every job kind).
HANGING = 8
BACKLOG_TICKETS, PER_TICKET = 4, 50  # 200 cards, 50 approvers a ticket (the API's maximum)
LARK_QPS = 20  # the sandbox app takes 20 calls/s per API; the gateway aims just under it


async def _decide(embedded: Embedded, backend: SandboxBackend, ticket_id: str, who: str) -> None:
    memory = embedded.memory
    assert memory is not None
    status, receipt = await backend.submit(sample_ticket(ticket_id, [approver(who, who)]))
    assert status == 202, receipt
    delivery = receipt["deliveries"][0]["delivery_id"]
    await asyncio.wait_for(memory.wait_for(delivery), 10)
    await memory.click(who, delivery, ClickAction.APPROVE)


async def test_a_new_tickets_card_goes_out_while_the_backend_hangs(tmp_path: Path) -> None:
    # A client timeout longer than the test's bound: the old shared pool stays full throughout.
    embedded = await start(fast_settings(tmp_path / "data", backend_timeout_seconds=60))
    _, backend, memory = parts(embedded)
    try:
        backend.hang()
        for i in range(HANGING):
            await _decide(embedded, backend, f"T-HANG-{i}", f"a{i}")

        async def forward_lane_full() -> bool:
            return backend.hanging == HANGING

        await eventually(forward_lane_full)
        status, receipt = await backend.submit(sample_ticket("T-NEW", [approver("new", "New")]))
        assert status == 202, receipt
        await asyncio.wait_for(memory.wait_for(receipt["deliveries"][0]["delivery_id"]), 10)
        # The card is out while every forward is still held open by the backend.
        assert backend.hanging == HANGING and backend.attempts == []
        backend.release()
        for i in range(HANGING):
            await backend.wait_for_decision(f"T-HANG-{i}")
    finally:
        backend.release()  # the gateway's stop waits for the forwards in flight
        await embedded.stop()


@asynccontextmanager
async def _throttled(
    tmp_path: Path, platforms: list[str]
) -> AsyncIterator[tuple[Embedded, SandboxBackend, LarkSandbox]]:
    """A gateway on ``platforms`` whose sandbox Lark app takes LARK_QPS calls a second per API
    (the gateway aiming just under it, and retrying a throttled call soon)."""
    lark = {"app_qps": LARK_QPS - 2, "app_per_second": LARK_QPS, "throttle_retry_seconds": 0.1}
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=platforms, lark=lark))
    try:
        backend, platform = embedded.backend, embedded.platform_of("lark")
        assert backend is not None and isinstance(platform, LarkPlatform)
        sandbox = platform.app()
        sandbox.limit_app_qps(LARK_QPS)
        await sandbox.wait_connected()
        yield embedded, backend, sandbox
    finally:
        await embedded.stop()


def _lark_calls(sandbox: LarkSandbox, method: str, path: str) -> int:
    """The calls ``sandbox`` took (code 0) of ``method`` on ``path`` (or, ending in /, under it)."""
    return sum(
        1
        for r in sandbox.requests_log
        if r.method == method
        and (r.path.startswith(path) if path.endswith("/") else r.path == path)
        and r.code == 0
    )


def _cards_created(sandbox: LarkSandbox) -> int:
    return _lark_calls(sandbox, "POST", "/open-apis/im/v1/messages")


async def test_a_decision_and_card_updates_overtake_a_card_backlog(tmp_path: Path) -> None:
    async with _throttled(tmp_path, ["lark"]) as (embedded, backend, sandbox):
        ann = await embedded.seat("lark", "ann", "Ann")
        bob = await embedded.seat("lark", "bob", "Bob")
        backlog = [await _backlog_approvers(embedded, t) for t in range(BACKLOG_TICKETS)]
        status, receipt = await backend.submit(
            sample_ticket("T-FIRST", [approver("ann", "Ann"), approver("bob", "Bob")])
        )
        assert status == 202, receipt
        ids = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}

        async def first_sent() -> bool:
            return await states(backend, "T-FIRST") == ["sent", "sent"]

        await eventually(first_sent)
        base = _cards_created(sandbox)
        for t, approvers in enumerate(backlog):
            status, _ = await backend.submit(sample_ticket(f"T-BACKLOG-{t}", approvers))
            assert status == 202
        platform = embedded.platform_of("lark")
        await platform.click(ann, ids["ann"], ClickAction.APPROVE, "ship it")
        await backend.wait_for_decision("T-FIRST", within=20)
        at_decision = _cards_created(sandbox) - base

        async def bob_updated() -> bool:
            return platform.card_state(bob, ids["bob"]) == "approved"

        await eventually(bob_updated, within=20)
        at_update = _cards_created(sandbox) - base
    cards = BACKLOG_TICKETS * PER_TICKET
    # Both went through while most of the backlog still waited for the rate limit.
    assert at_decision < cards // 2, (at_decision, cards)
    assert at_update < cards // 2, (at_update, cards)


async def _backlog_approvers(embedded: Embedded, ticket: int) -> list[dict[str, str]]:
    seats = [
        await embedded.seat("lark", f"q{ticket}-{i}", f"Q {ticket}-{i}") for i in range(PER_TICKET)
    ]
    return [approver(s.account_id, s.display_name) for s in seats]


def _cards_patched(sandbox: LarkSandbox) -> int:
    return _lark_calls(sandbox, "PATCH", "/open-apis/im/v1/messages/")


async def test_a_dingtalk_redraw_overtakes_a_backlog_of_lark_redraws(tmp_path: Path) -> None:
    # Each platform paces its own calls: a DingTalk card shows its outcome while a decision's
    # Lark cards still wait for the Lark app's budget (in one lane by due time, it waited for
    # all but the lane's last few of the Lark redraws queued before it).
    async with _throttled(tmp_path, ["lark", "dingtalk"]) as (embedded, backend, sandbox):
        seats = [await embedded.seat("lark", f"l{i}", f"L {i}") for i in range(PER_TICKET)]
        ann = await embedded.seat("lark", "ann", "Ann")
        dan = await embedded.seat("dingtalk", "dan", "Dan")
        big = await _delivered(embedded, "T-BIG", seats)
        small = await _delivered(embedded, "T-SMALL", [ann, dan])
        lark_platform, ding = embedded.platform_of("lark"), embedded.platform_of("dingtalk")
        base = _cards_patched(sandbox)
        # The big ticket's first approver decides: every other card of it is queued for a
        # redraw, more than the Lark app takes in a second; then Ann decides the small one.
        await lark_platform.click(seats[0], big[seats[0].account_id], ClickAction.APPROVE)
        await backend.wait_for_decision("T-BIG", within=20)
        await lark_platform.click(ann, small["ann"], ClickAction.APPROVE)

        async def dan_redrawn() -> bool:
            return ding.card_state(dan, small["dan"]) == "approved"

        await eventually(dan_redrawn, within=20)
        at_dingtalk = _cards_patched(sandbox) - base
    backlog = PER_TICKET - 1
    assert at_dingtalk < backlog // 2, (at_dingtalk, backlog)


async def _delivered(embedded: Embedded, ticket: str, seats: list[Seat]) -> dict[str, str]:
    """Submit ``ticket`` to ``seats``; each one's delivery, once every card is out."""
    backend = embedded.backend
    assert backend is not None
    status, receipt = await backend.submit(
        sample_ticket(ticket, [approver(s.account_id, s.display_name) for s in seats])
    )
    assert status == 202, receipt

    async def sent() -> bool:
        return set(await states(backend, ticket)) == {"sent"}

    await eventually(sent, within=20)
    return {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}
