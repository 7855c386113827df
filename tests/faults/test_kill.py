"""The gateway SIGKILLed at random moments while requests are submitted and clicked through.

``approval-gateway serve`` runs as a deployment does (sandbox off, channels from settings, an
admin's consent), against the sandbox Lark and DingTalk apps and ticket backend in this process.
While a backend submits requests with two approvers each (one on Lark, one on DingTalk) and the
approvers tap Approve on their cards, the gateway is killed at seeded random moments and started
again on the same data directory. A submission is retried with its idempotency key until it is
accepted, an unanswered tap is tapped again, as people and backends do. In the end: every request
decided once, one event id per ticket at the backend, one card per delivery on every phone, every
card showing the outcome, and nothing left in the outbox.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.backend import SandboxBackend
from sandbox.tickets import approver, sample_ticket
from tests.faults.harness import (
    GatewayProcess,
    Platforms,
    authorize,
    backend_secret,
    gateway_env,
    prepare,
    submit_until_accepted,
)
from tests.gateway.helpers import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(170)]

SEED = 1123  # the kill schedule and the tapping order follow from it
REQUESTS = 100
USERS = 10  # per platform: ten cards each, under the platforms' per-user limits
KILLS = 5


@dataclass
class Ticket:
    """One submitted request and the cards it planned."""

    ticket_id: str
    deliveries: list[tuple[str, str, str]] = field(default_factory=list)  # channel, address, id


@dataclass
class Run:
    """What the backend and the approvers did, for the checks and the figures."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    taps: int = 0
    unanswered: int = 0


async def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    backend = SandboxBackend(secret=backend_secret(data_dir))
    await backend.start()
    platforms = Platforms(backend)
    platforms.start()
    env = gateway_env(data_dir, backend, platforms)
    token = await prepare(data_dir, env, platforms.add_users(USERS))
    run = Run()
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = GatewayProcess(data_dir, env, log)
        try:
            await gateway.start()
            backend.gateway_url = gateway.url
            for channel in ("lark", "dingtalk"):
                await authorize(gateway.url, token, channel)
            await _drive(gateway, backend, platforms, run, rng)
            assert await gateway.stop() == 0
        finally:
            await gateway.kill()
            platforms.stop()
            await backend.stop()
    _check(backend, platforms, run, gateway.skipped())
    assert gateway.starts == KILLS + 1
    assert gateway.outbox().keys() == {"done"}


async def _drive(
    gateway: GatewayProcess,
    backend: SandboxBackend,
    platforms: Platforms,
    run: Run,
    rng: random.Random,
) -> None:
    submitter = asyncio.create_task(_submit_all(backend, run))
    tapper = asyncio.create_task(_tap_all(platforms, run, random.Random(rng.random())))
    try:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 2.5))
            await gateway.kill()
            await gateway.start()
        await submitter

        async def settled() -> bool:
            return (
                _all_decided(backend, run)
                and _all_shown(platforms, run, gateway.skipped())
                and _empty(gateway)
            )

        try:
            await eventually(settled, within=90)
        except AssertionError:
            raise AssertionError(_unsettled(backend, platforms, run, gateway)) from None
    finally:
        for task in (submitter, tapper):
            task.cancel()
        await asyncio.gather(submitter, tapper, return_exceptions=True)


async def _submit_all(backend: SandboxBackend, run: Run) -> None:
    for i in range(REQUESTS):
        user = i % USERS
        ticket_id = f"T-KILL-{i:03d}"
        ticket = sample_ticket(
            ticket_id, [approver(f"l{user}", f"Lark {user}"), approver(f"d{user}", f"Ding {user}")]
        )
        receipt = await submit_until_accepted(backend, ticket, request_id=f"msg_{ticket_id}")
        planned = Ticket(ticket_id)
        for d in receipt["deliveries"]:
            address = (
                f"ou_{d['account_id']}" if d["channel"] == "lark" else f"staff_{d['account_id']}"
            )
            planned.deliveries.append((d["channel"], address, d["delivery_id"]))
        assert {c for c, _, _ in planned.deliveries} == {"lark", "dingtalk"}, receipt
        run.tickets[ticket_id] = planned


async def _tap_all(platforms: Platforms, run: Run, rng: random.Random) -> None:
    """Approvers tap every card that still shows buttons, a few at a time, in a seeded order."""
    busy: set[str] = set()
    slots = asyncio.Semaphore(8)
    tasks: set[asyncio.Task[None]] = set()

    async def tap(channel: str, address: str, delivery_id: str) -> None:
        async with slots:
            run.taps += 1
            if not await platforms.approve(channel, address, delivery_id):
                run.unanswered += 1
        busy.discard(delivery_id)

    while True:
        cards = [d for t in list(run.tickets.values()) for d in t.deliveries]
        rng.shuffle(cards)
        for channel, address, delivery_id in cards:
            if delivery_id in busy or platforms.card_state(channel, address, delivery_id) != (
                "pending"
            ):
                continue
            busy.add(delivery_id)
            task = asyncio.create_task(tap(channel, address, delivery_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.1)


def _all_decided(backend: SandboxBackend, run: Run) -> bool:
    return len(run.tickets) == REQUESTS and {d.ticket_id for d in backend.decisions} == set(
        run.tickets
    )


def _all_shown(platforms: Platforms, run: Run, skipped: set[str]) -> bool:
    # A card whose request was decided before its first send is never sent (nothing to redraw);
    # every card that reached a phone must show the outcome.
    return all(
        platforms.card_state(channel, address, delivery_id) == "approved"
        or (delivery_id in skipped and platforms.card_state(channel, address, delivery_id) is None)
        for ticket in run.tickets.values()
        for channel, address, delivery_id in ticket.deliveries
    )


def _unsettled(
    backend: SandboxBackend, platforms: Platforms, run: Run, gateway: GatewayProcess
) -> str:
    undecided = set(run.tickets) - {d.ticket_id for d in backend.decisions}
    stuck = [
        (ticket.ticket_id, channel, platforms.card_state(channel, address, delivery_id))
        for ticket in run.tickets.values()
        for channel, address, delivery_id in ticket.deliveries
        if platforms.card_state(channel, address, delivery_id) != "approved"
    ]
    return (
        f"not settled: {len(run.tickets)}/{REQUESTS} submitted, undecided {sorted(undecided)[:5]}, "
        f"cards not showing the outcome {stuck[:5]}, outbox {gateway.outbox()}"
    )


def _empty(gateway: GatewayProcess) -> bool:
    return set(gateway.outbox()) == {"done"}


def _check(backend: SandboxBackend, platforms: Platforms, run: Run, skipped: set[str]) -> None:
    # One decision per ticket, one event id per decision: nothing lost, nothing twice.
    per_ticket = Counter(d.ticket_id for d in backend.decisions)
    assert set(per_ticket) == set(run.tickets) and set(per_ticket.values()) == {1}
    assert len({d.webhook_id for d in backend.decisions}) == REQUESTS
    # Every phone holds exactly one card per delivery addressed to it, and no other.
    expected = Counter(
        address
        for t in run.tickets.values()
        for _, address, delivery_id in t.deliveries
        if delivery_id not in skipped
    )
    for address, count in expected.items():
        held = (
            platforms.lark.cards(address)
            if address.startswith("ou_")
            else platforms.dingtalk.cards(address)
        )
        assert len(held) == count, (address, len(held), count)
    print(
        f"\nkill test: {REQUESTS} requests, {KILLS} kills, {run.taps} taps "
        f"({run.unanswered} unanswered), {len(backend.attempts)} webhook attempts"
    )


async def test_a_card_on_the_phone_when_the_gateway_died_shows_the_outcome(tmp_path: Path) -> None:
    """The kill lands after Lark took the card and before the gateway recorded it; the request
    is then decided on DingTalk. The Lark card must not stay live with its buttons."""
    data_dir = tmp_path / "data"
    backend = SandboxBackend(secret=backend_secret(data_dir))
    await backend.start()
    platforms = Platforms(backend)
    platforms.start()
    # A lease longer than the restart: the request is decided before the send is retried.
    env = {
        **gateway_env(data_dir, backend, platforms),
        "APPROVAL_GATEWAY_OUTBOX__LEASE_SECONDS": "8",
    }
    token = await prepare(data_dir, env, platforms.add_users(1))
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = GatewayProcess(data_dir, env, log)
        try:
            await gateway.start()
            backend.gateway_url = gateway.url
            for channel in ("lark", "dingtalk"):
                await authorize(gateway.url, token, channel)
            await _decide_while_a_send_is_unrecorded(gateway, backend, platforms)
            assert await gateway.stop() == 0
        finally:
            await gateway.kill()
            platforms.stop()
            await backend.stop()
    assert len(platforms.lark.cards("ou_l0")) == 1


async def _decide_while_a_send_is_unrecorded(
    gateway: GatewayProcess, backend: SandboxBackend, platforms: Platforms
) -> None:
    platforms.lark.slow(2.0)  # Lark answers the card send late
    ticket = sample_ticket("T-LIVE", [approver("l0", "Lark 0"), approver("d0", "Ding 0")])
    receipt = await submit_until_accepted(backend, ticket, request_id="msg_T-LIVE")
    ids = {d["channel"]: d["delivery_id"] for d in receipt["deliveries"]}

    async def lark_send_in_flight() -> bool:
        on_dingtalk = platforms.dingtalk_card("staff_d0", ids["dingtalk"]) is not None
        return on_dingtalk and platforms.lark.calls_in_flight > 0

    await eventually(lark_send_in_flight)
    await gateway.kill()

    async def on_the_phone() -> bool:
        return platforms.card_state("lark", "ou_l0", ids["lark"]) == "pending"

    await eventually(on_the_phone)  # Lark finished the send nobody is waiting for
    platforms.lark.slow(0)
    await gateway.start()

    async def approved_on_dingtalk() -> bool:
        return await platforms.approve("dingtalk", "staff_d0", ids["dingtalk"])

    await eventually(approved_on_dingtalk, within=20)
    await backend.wait_for_decision("T-LIVE")
    status, trace = await backend.trace("T-LIVE")
    assert status == 200
    lark_state = next(d["state"] for d in trace["deliveries"] if d["channel"] == "lark")
    assert lark_state == "queued", "decided before the unrecorded send was retried"

    async def lark_card_shows_it() -> bool:
        return platforms.card_state("lark", "ou_l0", ids["lark"]) == "approved"

    await eventually(lark_card_shows_it, within=20)
