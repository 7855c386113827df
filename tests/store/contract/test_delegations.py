"""The delegations repository on every engine: stored with who set them, read back while not
ended, cleared per approver (the ended ones stay)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.delegation import Delegation
from bot.store.engine import EngineStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _away(who: str, to: str, start: int, end: int) -> Delegation:
    return Delegation(who, to, T0 + start * DAY, T0 + end * DAY, set_by=who)


async def test_current_delegations_come_back_by_approver_and_start(engine: EngineStore) -> None:
    stored = [_away("b", "c", 2, 4), _away("a", "b", 5, 6), _away("a", "c", 0, 1)]
    async with engine.unit() as uow:
        for d in stored:
            await uow.delegations.add(d, T0)
        inside = await uow.delegations.current(T0)
    async with engine.snapshot() as uow:
        later = await uow.delegations.current(T0 + DAY)  # a -> c ended at day 1
    assert inside == [stored[2], stored[1], stored[0]]
    assert later == [stored[1], stored[0]]
    assert [d.set_by for d in later] == ["a", "b"]


async def test_clear_drops_only_that_approvers_windows_not_ended(engine: EngineStore) -> None:
    async with engine.unit() as uow:
        for d in (_away("a", "b", 0, 1), _away("a", "c", 2, 3), _away("x", "y", 0, 9)):
            await uow.delegations.add(d, T0)
    async with engine.unit() as uow:
        assert await uow.delegations.clear("a", T0 + 1.5 * DAY) == 1
    async with engine.snapshot() as uow:
        assert await uow.delegations.current(T0) == [_away("a", "b", 0, 1), _away("x", "y", 0, 9)]
