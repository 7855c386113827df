"""Per-vote events: with ``backend_vote_events`` on, one signed ``approval.vote`` webhook per
counted vote (a repeat tap sends none), each with its own event id and the tally it left; off
(the default), only the decision, typed ``approval.decision``."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import ActionStatus, ClickAction
from bot.settings.config import Settings
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, parts, states

THREE = [approver("a1", "Ann"), approver("a2", "Bob"), approver("a3", "Cy")]
QUORUM = {"rule": "quorum", "quorum": 2}


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return fast_settings(tmp_path / "data", backend_vote_events=request.param)


async def _vote_through(stack: object, ticket_id: str) -> None:
    """a1 approves (and taps again), a2 rejects, a3 approves: decided approved, 2 to 1."""
    _, backend, memory = parts(stack)
    status, receipt = await backend.submit({**sample_ticket(ticket_id, THREE), "policy": QUORUM})
    assert status == 202, receipt
    cards = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend, ticket_id))

    await eventually(sent)
    taps = [
        ("a1", ClickAction.APPROVE, None, ActionStatus.VOTED),
        ("a1", ClickAction.APPROVE, None, ActionStatus.ALREADY_VOTED),
        ("a2", ClickAction.REJECT, "not tonight", ActionStatus.VOTED),
        ("a3", ClickAction.APPROVE, None, ActionStatus.DECIDED),
    ]
    for account, action, comment, expected in taps:
        click = await memory.click(account, cards[account], action, comment)
        assert click.result.status is expected, (account, click.result.status)
    await backend.wait_for_decision(ticket_id)


def _forwards_done(settings: Settings) -> bool:
    db = settings.data_dir / "gateway.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT DISTINCT state FROM outbox WHERE kind IN ('forward_vote', 'forward_decision')"
        ).fetchall()
    return {row[0] for row in rows} == {"done"}


@pytest.mark.parametrize("settings", [True], indirect=True)
async def test_each_counted_vote_is_one_signed_vote_event_with_its_tally(
    stack: object, settings: Settings
) -> None:
    _, backend, _ = parts(stack)
    await _vote_through(stack, "T-VOTES")

    async def drained() -> bool:
        return _forwards_done(settings)

    await eventually(drained)
    votes = [v.body for v in backend.votes]  # verified against the secret, de-duplicated on id
    assert [(v["type"], v["ticket_id"]) for v in votes] == [("approval.vote", "T-VOTES")] * 3
    assert sorted(v["vote"]["account_id"] for v in votes) == ["a1", "a2", "a3"]
    by_account: dict[str, dict[str, Any]] = {v["vote"]["account_id"]: v for v in votes}
    assert by_account["a2"]["vote"]["outcome"] == "rejected"
    assert by_account["a2"]["vote"]["comment"] == "not tonight"
    tallies = {
        account: [(s["result"], s["approved"], s["rejected"]) for s in v["stages"]]
        for account, v in by_account.items()
    }
    assert tallies == {
        "a1": [("pending", 1, 0)],
        "a2": [("pending", 1, 1)],
        "a3": [("approved", 2, 1)],
    }
    (decision,) = backend.decisions
    assert decision.body["type"] == "approval.decision"
    event_ids = [v.webhook_id for v in backend.votes]
    assert len({*event_ids, decision.webhook_id}) == 4, "each event has an id of its own"
    assert all(v["event_id"] == i for v, i in zip(votes, event_ids, strict=True))
    # Sent once each: every attempt taken at the first try (the retries would repeat the ids).
    assert sorted(a.webhook_id for a in backend.attempts) == sorted(
        [*event_ids, decision.webhook_id]
    )


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_without_the_setting_only_the_typed_decision_is_sent(
    stack: object, settings: Settings
) -> None:
    _, backend, _ = parts(stack)
    await _vote_through(stack, "T-QUIET")

    async def drained() -> bool:
        return _forwards_done(settings)

    await eventually(drained)
    assert backend.votes == []
    (decision,) = backend.decisions
    assert decision.body["type"] == "approval.decision"
    assert [v["account_id"] for v in decision.body["votes"]] == ["a1", "a2", "a3"]
