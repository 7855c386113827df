"""The delegations repository on every engine: stored with who set them, read back while not
ended, cleared per approver (the ended ones stay); and read with the route facts down each
chain, as a stage's routing reads them."""

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


async def test_routes_read_the_delegations_and_the_facts_down_each_chain(
    engine: EngineStore,
) -> None:
    # a delegates to b, who delegates to c (a later window); x delegates to nobody. The one
    # read holds the delegations not ended, as current() reads them, and the route facts of
    # a, x and everyone reached from them: b and c, not y (reached from nobody asked for).
    stored = [_away("a", "b", 0, 3), _away("b", "c", 1, 2), _away("y", "z", 0, 9)]
    async with engine.unit() as uow:
        for d in stored:
            await uow.delegations.add(d, T0)
        await uow.identities.set_binding("c", "lark", "ou_c", "admin", "cli", T0)
        await uow.identities.set_binding("c", "email", "c@example.com", "admin", "cli", T0)
        await uow.preferences.set(
            "b", order=("email",), email_enabled=False, by="b", at=T0, time_zone="Asia/Shanghai"
        )
    async with engine.snapshot() as uow:
        routes = await uow.identities.routes(["a", "x"], T0)
        current = await uow.delegations.current(T0)
        each = {a: await uow.identities.route_facts(a) for a in ("a", "b", "c", "x")}
    assert list(routes.delegations) == current
    assert dict(routes.facts) == each
    assert each["c"][1] == {"lark": "ou_c", "email": "c@example.com"}
    assert each["b"][0].channel_order == ("email",) and not each["b"][0].email_enabled
    assert each["b"][0].time_zone == "Asia/Shanghai" and each["x"][1] == {}
