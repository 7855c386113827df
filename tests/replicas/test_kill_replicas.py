"""Three replicas on one database; one SIGKILLed, the others restarted, while work flows.

Three ``approval-gateway serve`` processes share one database and one Lark and one DingTalk
app, whose sandboxes (and the ticket backend) live in this process. The platforms push each
click to one randomly chosen connection of the app, so any replica must resolve any click. The
backend submits a burst of requests with all replicas up (to any replica, as behind a load
balancer), and both approvers of each request tap Approve at the same moment. Then, while a
second burst comes in, replica 1 is SIGKILLed, replica 2 restarted (SIGTERM, graceful stop,
start), and replica 1 started again while replica 0 restarts. An unanswered tap is tapped again,
as people do.

The run happens once per database engine; each test below checks one property of it: nothing
lost, nothing decided or forwarded twice, no card twice on a phone, every tap answered in time
(except those in flight to a replica as it died or stopped), the loser of each pair told who
decided, clicks spread over the replicas, and Lark's per-app send rate never above its limit.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import click_params
from sandbox.lark.models import DeliveryInfo, RequestRecord
from sandbox.lark.platform import button_values
from sandbox.tickets import approver, sample_ticket
from tests.faults.harness import (
    CLICK_TIMEOUT,
    Platforms,
    authorize,
    backend_secret,
    gateway_env,
    prepare,
)
from tests.gateway.helpers import eventually
from tests.replicas.cluster import ENGINES, Balancer, Cluster, master_key

pytestmark = [pytest.mark.replicas, pytest.mark.timeout(240)]

SEED = 2113  # the tapping order follows from it
REPLICAS = 3
CALM, STORM = 24, 12  # requests submitted at once with every replica up, then amid the kills
REQUESTS = CALM + STORM
USERS = 12  # approvers per platform; each request has one on Lark and one on DingTalk
APP_QPS = 3  # each replica's Lark per-app pacing ...
APP_LIMIT = 4  # ... and the sandbox app's enforced limit: one replica stays under it, three not
SEND_API = ("POST", "/open-apis/im/v1/messages")
THANKS = "Thanks"
ALREADY = "Already decided by "
DISRUPTION_SLACK = 1.0  # a tap this close to a kill or stop may have gone to the dying socket


@dataclass
class Tap:
    """One press of Approve and what the phone showed."""

    ticket_id: str
    channel: str
    started: float
    answered: bool
    toast: str
    connections: tuple[str, ...] = ()  # DingTalk: the stream connection the click went out on


@dataclass
class Outcome:
    """What one run produced, for the checks."""

    deliveries: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    taps: list[Tap] = field(default_factory=list)
    events: list[tuple[str, int, float, float]] = field(default_factory=list)
    decisions: list[tuple[str, str]] = field(default_factory=list)  # ticket, webhook id
    skipped: set[str] = field(default_factory=set)
    lark_cards: dict[str, int] = field(default_factory=dict)
    dingtalk_cards: dict[str, int] = field(default_factory=dict)
    lark_log: list[RequestRecord] = field(default_factory=list)
    lark_deliveries: list[DeliveryInfo] = field(default_factory=list)
    ready: list[dict[str, Any]] = field(default_factory=list)
    stop_codes: list[int] = field(default_factory=list)
    seconds: float = 0.0  # from the first submission until everything settled
    chaos_seconds: float = 0.0  # until the last restarted replica listened again
    storm_began: float = 0.0  # loop time of the first kill: before it, every replica was up


@pytest.fixture(scope="module", params=sorted(ENGINES))
def outcome(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcome]:
    """The run, once per engine (a PostgreSQL run skips loudly where there is none)."""
    tmp = tmp_path_factory.mktemp(f"replicas-{request.param}")
    with ENGINES[request.param](tmp / "data") as engine:
        yield asyncio.run(_run(tmp, engine.env))


async def _run(tmp: Path, engine_env: dict[str, str]) -> Outcome:
    data_dir = tmp / "data"
    backend = SandboxBackend(secret=backend_secret(data_dir))
    await backend.start()
    platforms = Platforms(backend)
    platforms.start()
    platforms.lark.limit_app_qps(APP_LIMIT)
    env = {
        **gateway_env(data_dir, backend, platforms),
        **engine_env,
        "APPROVAL_GATEWAY_MASTER_KEY": master_key(),
        "APPROVAL_GATEWAY_LARK__APP_QPS": str(APP_QPS),
        "APPROVAL_GATEWAY_LARK__APP_PER_SECOND": str(APP_LIMIT),  # the sandbox app's limit
        "APPROVAL_GATEWAY_OUTBOX__SEND_CONCURRENCY": "2",  # so every replica takes sends
        "APPROVAL_GATEWAY_OUTBOX__SHUTDOWN_GRACE_SECONDS": "2",
    }
    token = await prepare(data_dir, env, platforms.add_users(USERS))
    out = Outcome()
    with (tmp / "gateways.log").open("wb") as log:
        cluster = Cluster.make(REPLICAS, data_dir, env, log)
        try:
            await _start(cluster, token, out)
            async with aiohttp.ClientSession() as http:
                await _drive(cluster, backend, platforms, Balancer(backend, cluster, http), out)
            _collect(backend, platforms, out)
            out.events = cluster.events
            out.stop_codes = await cluster.stop_all()
        finally:
            await cluster.kill_all()
            platforms.stop()
            await backend.stop()
    return out


async def _start(cluster: Cluster, token: str, out: Outcome) -> None:
    # The first replica migrates the database and takes the admin's consent; the others start
    # on the migrated database together and load the consent from it.
    await cluster.start(0)
    for channel in ("lark", "dingtalk"):
        await authorize(cluster.urls[0], token, channel)
    await asyncio.gather(*(cluster.start(i) for i in range(1, REPLICAS)))
    for replica in cluster.replicas:

        async def ready(url: str = replica.url) -> dict[str, Any] | None:
            async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as response:
                body: dict[str, Any] = await response.json()
                return body if response.status == 200 else None

        out.ready.append(await eventually(ready, within=30))


async def _drive(
    cluster: Cluster,
    backend: SandboxBackend,
    platforms: Platforms,
    balancer: Balancer,
    out: Outcome,
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    tapper = asyncio.create_task(_tap_all(platforms, out, random.Random(SEED)))
    submitter: asyncio.Task[None] | None = None
    try:
        # All replicas up: they share the sends of the first burst (and the app's rate limit).
        await _submit_burst(balancer, out, range(CALM))

        async def on_phones() -> bool:
            cards = [card for ticket in out.deliveries.values() for card in ticket]
            return all(_state(platforms, *card) is not None for card in cards)

        await eventually(on_phones, within=60)
        # The storm: a second burst while replica 1 dies and the others restart one by one.
        out.storm_began = loop.time()
        submitter = asyncio.create_task(_submit_burst(balancer, out, range(CALM, REQUESTS)))
        await cluster.kill(1)
        assert await cluster.restart(2) == 0
        # Replica 1 comes back while replica 0 restarts: one replica is always up.
        codes = await asyncio.gather(cluster.start(1), cluster.restart(0))
        assert codes[1] == 0
        out.chaos_seconds = loop.time() - began
        await submitter

        async def settled() -> bool:
            decided = {d.ticket_id for d in backend.decisions}
            return decided == set(out.deliveries) and await balancer.outbox_depth() == 0

        await eventually(settled, within=90)
        out.skipped = await _skipped(balancer, out)

        async def shown() -> bool:
            return all(
                _state(platforms, channel, address, delivery_id) == "approved"
                for ticket in out.deliveries.values()
                for channel, address, delivery_id in ticket
                if delivery_id not in out.skipped
            )

        await eventually(shown, within=30)
        out.seconds = loop.time() - began
    finally:
        tasks = [t for t in (submitter, tapper) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _submit_burst(balancer: Balancer, out: Outcome, numbers: range) -> None:
    await asyncio.gather(*(_submit(balancer, out, i) for i in numbers))


async def _submit(balancer: Balancer, out: Outcome, i: int) -> None:
    user = i % USERS
    ticket_id = f"T-REP-{i:03d}"
    ticket = sample_ticket(
        ticket_id, [approver(f"l{user}", f"Lark {user}"), approver(f"d{user}", f"Ding {user}")]
    )
    # The same request id on every resend: whichever replica takes it acts once.
    status, receipt = await balancer.call(
        "POST", "/v1/approvals", ticket, request_id=f"msg_{ticket_id}"
    )
    assert status == 202, receipt
    out.deliveries[ticket_id] = [
        (d["channel"], _address(d["channel"], d["account_id"]), d["delivery_id"])
        for d in receipt["deliveries"]
    ]


def _address(channel: str, account_id: str) -> str:
    return f"ou_{account_id}" if channel == "lark" else f"staff_{account_id}"


async def _tap_all(platforms: Platforms, out: Outcome, rng: random.Random) -> None:
    """Both approvers of a request tap at once as soon as both hold the card; a tap that got no
    answer is tapped again on the next round while the card still shows its buttons."""
    busy: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()
    while True:
        for ticket_id in rng.sample(sorted(out.deliveries), len(out.deliveries)):
            if ticket_id in busy or _answered(out, ticket_id):
                continue
            cards = out.deliveries[ticket_id]
            if not all(_state(platforms, *card) == "pending" for card in cards):
                continue
            busy.add(ticket_id)
            task = asyncio.create_task(_tap_pair(platforms, out, ticket_id, cards))
            task.add_done_callback(lambda _, t=ticket_id: busy.discard(t))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.1)


def _answered(out: Outcome, ticket_id: str) -> bool:
    return any(t.ticket_id == ticket_id and t.answered for t in out.taps)


async def _tap_pair(
    platforms: Platforms, out: Outcome, ticket_id: str, cards: list[tuple[str, str, str]]
) -> None:
    presses = [
        _press(platforms, channel, address, delivery_id) for channel, address, delivery_id in cards
    ]
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(*presses)
    for (channel, _, _), result in zip(cards, results, strict=True):
        if result is not None:
            out.taps.append(Tap(ticket_id, channel, started, *result))


async def _press(
    platforms: Platforms, channel: str, address: str, delivery_id: str
) -> tuple[bool, str, tuple[str, ...]] | None:
    """Approve on the user's card over the platform's stream: (answered in time, toast,
    DingTalk connections); None
    when the card no longer shows buttons (an earlier tap's late answer decided it)."""
    if channel == "lark":
        message = platforms.lark_message(address, delivery_id)
        values = [
            v
            for v in button_values(message.content if message else {})
            if v.get("action") == "approve"
        ]
        if message is None or not values:
            return None
        result = await platforms.lark.click(
            address,
            message.message_id,
            values[0],
            form_value={"comment": ""},
            timeout=CLICK_TIMEOUT,
        )
        toast = str((result.toast or {}).get("content", ""))
        return not result.failed, toast, ()
    card = platforms.dingtalk_card(address, delivery_id)
    if card is None or card.params.get("state") != "pending":
        return None
    params = click_params(card.params, ClickAction.APPROVE)
    clicked = await platforms.dingtalk.click(
        address, card.out_track_id, params, action_id="approve_button", timeout=CLICK_TIMEOUT
    )
    if clicked.error is not None:
        return False, clicked.error, clicked.connection_ids
    return True, clicked.card.private_params.get("notice", ""), clicked.connection_ids


def _state(platforms: Platforms, channel: str, address: str, delivery_id: str) -> str | None:
    return platforms.card_state(channel, address, delivery_id)


async def _skipped(balancer: Balancer, out: Outcome) -> set[str]:
    """Deliveries never sent because their request was decided first (no card to redraw)."""
    skipped: set[str] = set()
    for ticket_id in out.deliveries:
        status, trace = await balancer.call("GET", f"/v1/approvals/{ticket_id}")
        assert status == 200, trace
        skipped |= {d["delivery_id"] for d in trace["deliveries"] if d["state"] == "skipped"}
    return skipped


def _collect(backend: SandboxBackend, platforms: Platforms, out: Outcome) -> None:
    out.decisions = [(d.ticket_id, d.webhook_id) for d in backend.decisions]
    for i in range(USERS):
        out.lark_cards[f"ou_l{i}"] = len(platforms.lark.cards(f"ou_l{i}"))
        out.dingtalk_cards[f"staff_d{i}"] = len(platforms.dingtalk.cards(f"staff_d{i}"))
    out.lark_log = platforms.lark.requests_log
    out.lark_deliveries = platforms.lark.deliveries()


# -- the checks -----------------------------------------------------------------------------


def test_every_replica_was_ready_with_its_own_streams_and_lease_owner_id(outcome: Outcome) -> None:
    ids = [body["replica"]["id"] for body in outcome.ready]
    assert len(set(ids)) == REPLICAS and all(ids)
    for body in outcome.ready:
        assert body["replica"]["connections"] == {"lark": True, "dingtalk": True}
    assert outcome.stop_codes == [0] * REPLICAS, "every replica stops gracefully at the end"


def test_nothing_is_lost_and_nothing_is_decided_or_forwarded_twice(outcome: Outcome) -> None:
    per_ticket = Counter(ticket for ticket, _ in outcome.decisions)
    assert set(per_ticket) == set(outcome.deliveries), "every request decided"
    assert len(outcome.deliveries) == REQUESTS, "every submission accepted"
    assert set(per_ticket.values()) == {1}, "one decision per request"
    assert len({webhook for _, webhook in outcome.decisions}) == REQUESTS


def test_no_card_is_shown_twice_to_a_user(outcome: Outcome) -> None:
    expected = Counter(
        address
        for cards in outcome.deliveries.values()
        for _, address, delivery_id in cards
        if delivery_id not in outcome.skipped
    )
    held = {**outcome.lark_cards, **outcome.dingtalk_cards}
    assert {a: n for a, n in held.items() if n} == dict(expected)


def test_every_tap_is_answered_in_time_unless_its_replica_was_going_down(outcome: Outcome) -> None:
    def near(tap: Tap, what: str) -> bool:
        # A tap in flight to a replica as it was killed or closed its streams: the platform
        # shows the user its error and they tap again (every request ends decided, above).
        return any(
            start - CLICK_TIMEOUT - DISRUPTION_SLACK <= tap.started <= end + DISRUPTION_SLACK
            for kind, _, start, end in outcome.events
            if kind == what
        )

    unanswered = [t for t in outcome.taps if not t.answered]
    assert [t for t in unanswered if not (near(t, "kill") or near(t, "stop"))] == []
    print(
        f"\nreplicas: {len(outcome.deliveries)} requests in {outcome.seconds:.1f} s "
        f"(kill and restarts over after {outcome.chaos_seconds:.1f} s), "
        f"{len(outcome.taps)} taps, {len(unanswered)} unanswered "
        f"({sum(near(t, 'kill') for t in unanswered)} around the kill, "
        f"{sum(near(t, 'stop') and not near(t, 'kill') for t in unanswered)} around a stop), "
        f"busiest second of Lark card sends {_busiest_second(_sends(outcome))} "
        f"(app limit {APP_LIMIT}), graceful stops took "
        + ", ".join(
            f"{end - start:.1f} s" for kind, _, start, end in outcome.events if kind == "stop"
        )
    )


def test_the_slower_of_two_simultaneous_taps_is_told_who_decided_and_when(
    outcome: Outcome,
) -> None:
    answered = [t for t in outcome.taps if t.answered]
    thanks = [t for t in answered if t.toast.startswith(THANKS)]
    already = [t for t in answered if t.toast.startswith(ALREADY)]
    assert len({t.ticket_id for t in thanks}) == len(thanks), "one tap per request decides"
    assert already, "the other approver's simultaneous tap met the decision in the shared store"
    for tap in already:
        assert " at " in tap.toast and tap.toast.endswith("UTC."), tap.toast
    assert [t for t in answered if t not in thanks and t not in already] == []


def test_clicks_reach_every_replica(outcome: Outcome) -> None:
    # A connection per replica start on each platform, which picks one at random per click.
    callbacks = [d for d in outcome.lark_deliveries if d.event_type == "card.action.trigger"]
    lark = Counter(device for d in callbacks for device in d.devices)
    dingtalk = Counter(c for t in outcome.taps if t.channel == "dingtalk" for c in t.connections)
    assert len(lark) >= REPLICAS, lark
    assert len(dingtalk) >= REPLICAS, dingtalk
    # While all replicas were up, clicks went to more than one of them (not, say, the newest).
    calm = [t for t in outcome.taps if t.channel == "dingtalk" and t.started < outcome.storm_began]
    assert len(calm) >= 5, "enough taps before the kill to tell"
    assert len({c for t in calm for c in t.connections}) >= 2, calm


def test_lark_per_app_send_rate_stays_under_the_limit_across_replicas(outcome: Outcome) -> None:
    sends = _sends(outcome)
    assert sends, "cards were sent"
    busiest = _busiest_second(sends)
    assert busiest <= APP_LIMIT, f"{busiest} card sends in one second, over the app's {APP_LIMIT}"
    assert [r for r in outcome.lark_log if r.status == 429] == []


def _sends(outcome: Outcome) -> list[float]:
    """When each card send reached the Lark sandbox."""
    return sorted(r.at for r in outcome.lark_log if (r.method, r.path) == SEND_API)


def _busiest_second(times: list[float]) -> int:
    """The most calls in any one-second window, the way the platform counts them."""
    busiest, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest
