"""The votes repository on every engine: one vote per (request, stage, account), read back in the
order they came, and in the unit that added them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.intake import ApprovalRequest
from bot.core.models import Outcome, RequestStatus, StoredRequest, Vote
from bot.errors import StoreError
from bot.store.engine import EngineStore
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _request(engine: EngineStore, request_id: str) -> None:
    ticket = ApprovalRequest.model_validate(
        sample_ticket(f"T-{request_id}", [approver("a1", "Ann"), approver("a2", "Bo")])
    )
    async with engine.unit() as uow:
        await uow.requests.insert(
            StoredRequest(id=request_id, ticket=ticket, status=RequestStatus.PENDING, created_at=T0)
        )


def _vote(account: str, at: datetime, stage: int = 0, **extra: str) -> Vote:
    return Vote(stage, account, Outcome.APPROVED, at, display_name=account.upper(), **extra)


async def test_votes_come_back_in_order_with_who_and_where(engine: EngineStore) -> None:
    await _request(engine, "r1")
    later = _vote("a2", T0 + timedelta(minutes=2), channel="lark", comment="fine")
    async with engine.unit() as uow:
        assert await uow.votes.add("r1", later)
        assert await uow.votes.add("r1", _vote("a1", T0, channel="dingtalk"))
        seen_inside = await uow.votes.of_request("r1")
    async with engine.snapshot() as uow:
        stored = await uow.votes.of_request("r1")
    assert stored == seen_inside == [_vote("a1", T0, channel="dingtalk"), later]


async def test_a_second_vote_in_the_same_stage_is_not_stored(engine: EngineStore) -> None:
    await _request(engine, "r2")
    async with engine.unit() as uow:
        assert await uow.votes.add("r2", _vote("a1", T0))
    async with engine.unit() as uow:
        rejected = Vote(0, "a1", Outcome.REJECTED, T0 + timedelta(seconds=1), "no")
        assert not await uow.votes.add("r2", rejected)
        assert await uow.votes.add("r2", _vote("a1", T0 + timedelta(minutes=1), stage=1))
    async with engine.snapshot() as uow:
        stored = await uow.votes.of_request("r2")
    assert [(v.stage, v.outcome) for v in stored] == [(0, Outcome.APPROVED), (1, Outcome.APPROVED)]


async def test_votes_of_another_request_are_not_read(engine: EngineStore) -> None:
    await _request(engine, "r3")
    await _request(engine, "r4")
    async with engine.unit() as uow:
        await uow.votes.add("r3", _vote("a1", T0))
    async with engine.snapshot() as uow:
        assert await uow.votes.of_request("r4") == []


async def test_a_vote_and_a_close_under_the_lock_are_stored_or_fail_their_unit(
    engine: EngineStore,
) -> None:
    # add_held and close_held are read back by nobody (PostgreSQL sends them with the unit's
    # next statement): stored as add and close store them, and a second vote of the account
    # in that stage, or the close of a request no longer pending, fails the whole unit.
    await _request(engine, "r4")
    async with engine.unit() as uow:
        await uow.votes.add_held("r4", _vote("a1", T0))
        await uow.requests.close_held("r4", RequestStatus.APPROVED, T0, None)
    for again in (
        lambda uow: uow.votes.add_held("r4", _vote("a1", T0 + timedelta(seconds=1))),
        lambda uow: uow.requests.close_held("r4", RequestStatus.REJECTED, T0, "late"),
    ):
        with pytest.raises(StoreError):
            async with engine.unit() as uow:
                await uow.votes.add_held("r4", _vote("a2", T0))
                await again(uow)
    async with engine.snapshot() as uow:
        assert await uow.votes.of_request("r4") == [_vote("a1", T0)]
        request = await uow.requests.get("r4")
    assert request is not None and request.status is RequestStatus.APPROVED
    assert request.closed_at == T0 and request.close_reason is None
