"""SIGKILLs during a storm of votes on quorum requests.

Two ``approval-gateway serve`` replicas share one database (SQLite, then PostgreSQL where the test
server answers) and one Lark and one DingTalk app, whose sandboxes and the ticket backend live in
this process. The backend submits requests with three approvers each (one on Lark, two on
DingTalk) and the rule ``quorum 2``; every approver taps their own choice (Approve, or Reject with
a reason, seeded) as soon as their card shows buttons, all at once, and taps again while their
card still shows buttons after a tap went unanswered. Meanwhile the replicas are SIGKILLed in
turn at seeded moments and started again, one always up.

Vote events are on: each counted vote must also reach the backend as one ``approval.vote``.
In the end every request has exactly one decision webhook; its ``votes`` hold each approver at
most once, with the choice they tapped, every tap that was answered as counted among them, and
no vote beyond the one that reached the outcome; the outcome is the quorum rule applied to them.
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
from sandbox.dingtalk.sandbox import SandboxError
from sandbox.lark.platform import button_values
from sandbox.lark.sandbox import DeliveryError
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

pytestmark = [pytest.mark.faults, pytest.mark.replicas, pytest.mark.timeout(120)]

SEED = 3221  # the choices, the tapping order and the kill schedule follow from it
REPLICAS = 2
REQUESTS = 12
USERS = 6  # per platform
QUORUM, APPROVERS = 2, 3
KILLS = 2  # replicas 0 and 1 in turn
COUNTED = "Thanks"  # the toast of a counted vote ("... your vote was recorded" / "... decision")


@dataclass(frozen=True)
class Card:
    """One approver's card of one request."""

    ticket_id: str
    account_id: str
    channel: str
    address: str
    delivery_id: str


@dataclass
class Storm:
    """What the backend and the approvers did, for the checks."""

    cards: dict[str, list[Card]] = field(default_factory=dict)  # per ticket
    choices: dict[tuple[str, str], str] = field(default_factory=dict)  # (ticket, account) -> ...
    toasts: list[tuple[str, str, str]] = field(default_factory=list)  # ticket, account, toast
    taps: int = 0
    unanswered: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    vote_events: list[dict[str, Any]] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture(params=sorted(ENGINES))
def storm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storm]:
    """The run on each engine (PostgreSQL skips loudly where there is none)."""
    with ENGINES[request.param](tmp_path / "data") as engine:
        yield asyncio.run(_run(tmp_path, engine.env))


def test_sigkills_amid_a_storm_of_votes_leave_each_request_decided_once_by_its_quorum(
    storm: Storm,
) -> None:
    per_ticket = Counter(str(d["ticket_id"]) for d in storm.decisions)
    assert set(per_ticket) == set(storm.cards) and len(storm.cards) == REQUESTS
    assert set(per_ticket.values()) == {1}, "one decision webhook per request"
    assert len(set(storm.webhook_ids)) == REQUESTS
    for decision in storm.decisions:
        _check_tally(storm, decision)
    # A vote answered as counted is in its request's decision; none was answered so twice.
    counted = Counter((t, a) for t, a, toast in storm.toasts if toast.startswith(COUNTED))
    assert [key for key, n in counted.items() if n > 1] == []
    voted = {(str(d["ticket_id"]), v["account_id"]) for d in storm.decisions for v in d["votes"]}
    assert set(counted) <= voted
    # One approval.vote event per counted vote, none for a vote that was not counted.
    events = Counter((str(v["ticket_id"]), v["vote"]["account_id"]) for v in storm.vote_events)
    assert set(events) == voted and set(events.values()) == {1}
    outcomes = Counter(str(d["decision"]) for d in storm.decisions)
    print(
        f"\nvote storm: {REQUESTS} quorum requests in {storm.seconds:.1f} s, {KILLS} kills, "
        f"{storm.taps} taps ({storm.unanswered} unanswered), outcomes {dict(outcomes)}"
    )


def _check_tally(storm: Storm, decision: dict[str, Any]) -> None:
    ticket_id = str(decision["ticket_id"])
    votes = decision["votes"]
    accounts = [v["account_id"] for v in votes]
    assert len(accounts) == len(set(accounts)), f"{ticket_id}: a vote counted twice: {votes}"
    assert set(accounts) <= {c.account_id for c in storm.cards[ticket_id]}, votes
    for vote in votes:  # each vote is what its approver tapped, cast in the one stage
        choice = storm.choices[(ticket_id, vote["account_id"])]
        assert (vote["outcome"], vote["stage"]) == (choice, 0), (ticket_id, vote)
    said = [str(v["outcome"]) for v in votes]
    # The outcome is the rule applied to the votes, reached by the last of them and not before.
    assert _rule(said) == decision["decision"], (ticket_id, said, decision["decision"])
    assert _rule(said[:-1]) is None, f"{ticket_id}: a vote counted after the outcome: {said}"
    (stage,) = decision["stages"]
    assert stage["rule"] == "quorum" and stage["needed"] == QUORUM
    assert (stage["result"], stage["approved"], stage["rejected"]) == (
        decision["decision"],
        said.count("approved"),
        said.count("rejected"),
    )


def _rule(said: list[str]) -> str | None:
    """Quorum 2 of 3, from the README's table: approved at 2 approvals, rejected once 2 can no
    longer be reached."""
    if said.count("approved") >= QUORUM:
        return "approved"
    if APPROVERS - said.count("rejected") < QUORUM:
        return "rejected"
    return None


async def _run(tmp: Path, engine_env: dict[str, str]) -> Storm:
    data_dir = tmp / "data"
    backend = SandboxBackend(secret=backend_secret(data_dir))
    await backend.start()
    platforms = Platforms(backend)
    platforms.start()
    env = {
        **gateway_env(data_dir, backend, platforms),
        **engine_env,
        "APPROVAL_GATEWAY_MASTER_KEY": master_key(),
        "APPROVAL_GATEWAY_OUTBOX__SHUTDOWN_GRACE_SECONDS": "2",
        "APPROVAL_GATEWAY_BACKEND_VOTE_EVENTS": "true",
    }
    token = await prepare(data_dir, env, platforms.add_users(USERS))
    storm = Storm()
    with (tmp / "gateways.log").open("wb") as log:
        cluster = Cluster.make(REPLICAS, data_dir, env, log)
        try:
            await cluster.start(0)
            for channel in ("lark", "dingtalk"):
                await authorize(cluster.urls[0], token, channel)
            await cluster.start(1)
            async with aiohttp.ClientSession() as http:
                await _drive(cluster, backend, platforms, Balancer(backend, cluster, http), storm)
            storm.decisions = [d.body for d in backend.decisions]
            storm.webhook_ids = [d.webhook_id for d in backend.decisions]
            storm.vote_events = [v.body for v in backend.votes]
            assert await cluster.stop_all() == [0] * REPLICAS
        finally:
            await cluster.kill_all()
            platforms.stop()
            await backend.stop()
    return storm


async def _drive(
    cluster: Cluster,
    backend: SandboxBackend,
    platforms: Platforms,
    balancer: Balancer,
    storm: Storm,
) -> None:
    rng = random.Random(SEED)
    loop = asyncio.get_running_loop()
    began = loop.time()
    submitter = asyncio.create_task(_submit_all(balancer, storm, rng))
    tapper = asyncio.create_task(_tap_all(platforms, storm, random.Random(rng.random())))
    try:
        for i in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            await cluster.kill(i % REPLICAS)  # the other replica stays up throughout
            await cluster.start(i % REPLICAS)
        await submitter

        async def settled() -> bool:
            decided = {d.ticket_id for d in backend.decisions}
            # What this test checks is forwarded: the redraws still queued (a voter's own card
            # is redrawn again later as a fallback) are not waited for.
            forwards = await balancer.outbox_depth("forward_decision", "forward_vote")
            return decided == set(storm.cards) and forwards == 0

        try:
            await eventually(settled, within=60)
        except AssertionError:
            undecided = set(storm.cards) - {d.ticket_id for d in backend.decisions}
            raise AssertionError(f"undecided after the storm: {sorted(undecided)}") from None
        storm.seconds = loop.time() - began
    finally:
        for task in (submitter, tapper):
            task.cancel()
        await asyncio.gather(submitter, tapper, return_exceptions=True)


async def _submit_all(balancer: Balancer, storm: Storm, rng: random.Random) -> None:
    await asyncio.gather(*(_submit(balancer, storm, rng, i) for i in range(REQUESTS)))


async def _submit(balancer: Balancer, storm: Storm, rng: random.Random, i: int) -> None:
    ticket_id = f"T-VOTE-{i:03d}"
    user, other = i % USERS, (i + 1) % USERS
    approvers = [
        approver(f"l{user}", f"Lark {user}"),
        approver(f"d{user}", f"Ding {user}"),
        approver(f"d{other}", f"Ding {other}"),
    ]
    for entry in approvers:  # approve more often than not: both outcomes occur
        choice = "approved" if rng.random() < 0.6 else "rejected"
        storm.choices[(ticket_id, entry["account_id"])] = choice
    ticket = {**sample_ticket(ticket_id, approvers), "policy": {"rule": "quorum", "quorum": 2}}
    status, receipt = await balancer.call(
        "POST", "/v1/approvals", ticket, request_id=f"msg_{ticket_id}"
    )
    assert status == 202, receipt
    storm.cards[ticket_id] = [
        Card(ticket_id, d["account_id"], d["channel"], _address(d), d["delivery_id"])
        for d in receipt["deliveries"]
    ]


def _address(delivery: dict[str, str]) -> str:
    prefix = "ou_" if delivery["channel"] == "lark" else "staff_"
    return prefix + delivery["account_id"]


async def _tap_all(platforms: Platforms, storm: Storm, rng: random.Random) -> None:
    """Every approver taps their choice on each card that shows them buttons, many at once."""
    busy: set[Card] = set()
    tasks: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(12)

    async def tap(card: Card) -> None:
        async with slots:
            storm.taps += 1
            toast = await _press(platforms, card, storm.choices[(card.ticket_id, card.account_id)])
            if toast is None:
                storm.unanswered += 1
            else:
                storm.toasts.append((card.ticket_id, card.account_id, toast))
        busy.discard(card)

    while True:
        cards = [card for cards in list(storm.cards.values()) for card in cards]
        for card in rng.sample(cards, len(cards)):
            if card in busy or not _has_buttons(platforms, card):
                continue
            busy.add(card)
            task = asyncio.create_task(tap(card))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.1)


def _has_buttons(platforms: Platforms, card: Card) -> bool:
    if card.channel == "lark":
        message = platforms.lark_message(card.address, card.delivery_id)
        return message is not None and any(True for _ in button_values(message.content))
    held = platforms.dingtalk_card(card.address, card.delivery_id)
    return held is not None and held.params.get("showActions") == "true"


async def _press(platforms: Platforms, card: Card, choice: str) -> str | None:
    """Tap the approver's choice on their card over the platform's stream: the toast they
    read, or None when the tap went unanswered (the platform's error; they tap again)."""
    try:
        return await _click(platforms, card, choice)
    except (DeliveryError, SandboxError, TimeoutError):
        return None  # no live connection to push the click to: the phone shows an error


async def _click(platforms: Platforms, card: Card, choice: str) -> str | None:
    action = ClickAction.APPROVE if choice == "approved" else ClickAction.REJECT
    comment = "not in this window" if action is ClickAction.REJECT else ""
    if card.channel == "lark":
        message = platforms.lark_message(card.address, card.delivery_id)
        values = [v for v in button_values(message.content if message else {})]
        values = [v for v in values if v.get("action") == action.value]
        if message is None or not values:
            return None
        result = await platforms.lark.click(
            card.address,
            message.message_id,
            values[0],
            form_value={"comment": comment},
            timeout=CLICK_TIMEOUT,
        )
        return None if result.failed else str((result.toast or {}).get("content", ""))
    held = platforms.dingtalk_card(card.address, card.delivery_id)
    if held is None:
        return None
    params = click_params(held.params, action, comment or None)
    clicked = await platforms.dingtalk.click(
        card.address,
        held.out_track_id,
        params,
        action_id=f"{action.value}_button",
        timeout=CLICK_TIMEOUT,
    )
    if clicked.error is not None:
        return None
    return str(clicked.card.private_params.get("notice", ""))
