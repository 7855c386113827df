"""What a click costs in statements, on each engine: the request read once under its lock
(with its cards, decision and votes, and on PostgreSQL the clicker's binding), the vote, then
what the vote implies. On PostgreSQL each statement is a round trip, and the transaction adds
two (BEGIN and COMMIT, no reset: tests/store/test_postgres_round_trips.py); every write after
the read is deferred and they go together in one statement before the COMMIT
(``apply_writes``): a click that counts a vote and one that decides are both 4 round trips
(8 and 10 with the binding read apart and each write a round trip, 13 and 16 with the request
read two or three times). SQLite runs the same steps inline, the request's rows, the binding
and each deferred write a statement each (11 and 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.memory import MemoryChannel
from bot.core.intake import ApprovalRequest
from bot.core.models import ActionStatus, ClickAction, DeliveryState, InboundAction
from bot.core.route_planner import Router
from bot.core.service import ApprovalService
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.postgres.tx import PostgresTx
from bot.store.sqlite.tx import SqliteTx
from tests.store.statements import watch
from tests.support.clock import MovableClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The request read under its lock, the clicker's binding (no delegation read: it is theirs),
# the vote; then a counting vote redraws the clicker's card after its answer and the other's
# now, and a deciding one closes the request (its steps with it), redraws both cards, and
# records the decision with its forward job; each audited. Everything after the read is a
# deferred write: admitted under the lock, the vote and the close cannot fail to be stored (a
# count other than one fails the transaction), and nothing reads the rest back.
SQLITE_READ = [
    "get_request",
    "deliveries_of_request",
    "events_of_deliveries",
    "decision_of_request",
    "votes_of_request",
]
VOTE_HELD = ["add_vote", "enqueue", "enqueue_redraw", "insert_audit"]
DECIDE_HELD = ["add_vote", "close_request", "enqueue", "enqueue", "insert_forwarded_decision"]
DECIDE_HELD += ["insert_audit"]
READ = ["request_for_vote"]  # on PostgreSQL the read brings the binding too
SQLITE_VOTE = ["request_for_vote", *SQLITE_READ, "binding_address"]
SQLITE_HELD = ["insert_decision", *DECIDE_HELD]  # the decision and its forward job apart
# Per engine, per click: the statements sent, and the writes deferred among them.
EXPECTED = {
    "postgresql": (([*READ, "apply_writes"], VOTE_HELD), ([*READ, "apply_writes"], DECIDE_HELD)),
    "sqlite": (
        ([*SQLITE_VOTE, *VOTE_HELD], VOTE_HELD),
        ([*SQLITE_VOTE, "cancel_steps", *SQLITE_HELD], SQLITE_HELD),
    ),
}


class NoWakeup:
    def notify(self, *kinds: str) -> None:
        return None


def _ticket() -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "ticket_id": "T-TRIPS",
            "title": "Add an index to orders",
            "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
            "approvers": [
                {"account_id": a, "display_name": n, "account_type": "main"}
                for a, n in (("a1", "Ann"), ("a2", "Bob"))
            ],
            "policy": {"rule": "all"},
            "console_url": "https://dms.example.com/tickets/T-TRIPS",
            "expires_at": (T0 + timedelta(hours=1)).isoformat(),
        }
    )


async def test_a_counting_vote_and_a_deciding_one_read_the_request_once(
    engine: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ApprovalService(
        engine, MovableClock(T0), Router({"memory": MemoryChannel()}, ["memory"]), NoWakeup()
    )
    await service.submit(_ticket())
    request = await service.get("T-TRIPS")
    async with engine.unit() as uow:  # both cards on the approvers' phones: both are redrawn
        for card in request.deliveries:
            await uow.deliveries.set_state(card.id, DeliveryState.SENT, T0, "sent")
    engine_name = "postgresql" if isinstance(engine, PostgresStore) else "sqlite"
    sent: list[str] = []
    held: list[str] = []
    watch(monkeypatch, PostgresTx if engine_name == "postgresql" else SqliteTx, sent, held)
    counted: list[tuple[list[str], list[str]]] = []
    for card in sorted(request.deliveries, key=lambda d: d.account_id):
        click = InboundAction(
            channel="memory",
            actor=card.account_id,
            ref=card.id,
            action=ClickAction.APPROVE,
            source="test",
        )
        result = await service.handle_action(click)
        counted.append((sent.copy(), held.copy()))
        sent.clear()
        held.clear()
        assert result.request is not None and len(result.request.votes) == len(counted)
    assert result.status is ActionStatus.DECIDED
    assert result.request.decision is not None
    # In any order (the cards' redraws follow the deliveries' order), but each one counted.
    assert [(sorted(s), sorted(h)) for s, h in counted] == [
        (sorted(s), sorted(h)) for s, h in EXPECTED[engine_name]
    ]


async def test_the_binding_read_with_the_request_still_decides_who_may_vote(
    engine: EngineStore,
) -> None:
    # The card went to a1's address on memory; a1's binding then moved to another identity:
    # the old one's click is refused (the binding read with the request, under its lock, is
    # the one in force), a2's own is counted.
    service = ApprovalService(
        engine, MovableClock(T0), Router({"memory": MemoryChannel()}, ["memory"]), NoWakeup()
    )
    await service.submit(_ticket())
    request = await service.get("T-TRIPS")
    async with engine.unit() as uow:
        await uow.identities.set_binding("a1", "memory", "moved-a1", "admin", "cli", T0)
    results = []
    for card in sorted(request.deliveries, key=lambda d: d.account_id):
        click = InboundAction(
            channel="memory",
            actor=card.address or "",
            ref=card.id,
            action=ClickAction.APPROVE,
            source="test",
        )
        results.append((await service.handle_action(click)).status)
    assert results == [ActionStatus.UNLINKED, ActionStatus.VOTED]


async def test_what_the_click_read_ahead_gives_way_to_the_units_own_writes(
    engine: EngineStore,
) -> None:
    # The bindings read with the request answer binding_address until the unit writes; after
    # a write (here a binding moved in the same unit) the store is asked again.
    service = ApprovalService(
        engine, MovableClock(T0), Router({"memory": MemoryChannel()}, ["memory"]), NoWakeup()
    )
    await service.submit(_ticket())
    request = await service.get("T-TRIPS")
    card = next(d for d in request.deliveries if d.account_id == "a1")
    async with engine.unit() as uow:
        await uow.identities.set_binding("a1", "memory", "first-a1", "admin", "cli", T0)
    async with engine.unit() as uow:
        assert await uow.requests.for_vote(card.id, "memory") is not None
        before = await uow.identities.binding_address("a1", "memory")
        await uow.identities.set_binding("a1", "memory", "moved-a1", "admin", "cli", T0)
        after = await uow.identities.binding_address("a1", "memory")
        unbound = await uow.identities.binding_address("a2", "memory")
    assert (before, after, unbound) == ("first-a1", "moved-a1", None)
