"""The step marks on every engine: a step is started once, a second start finds its mark, the
done mark stays, and a released start (its send failed) can start again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.engine import EngineStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REF = "r1/reminder:1:a1"


async def test_a_step_starts_once_and_a_later_start_finds_its_mark(engine: EngineStore) -> None:
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0) is None
        assert await uow.steps.start(REF, T0) == "started"  # in the same unit too
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0 + timedelta(minutes=1)) == "started"
        await uow.steps.done(REF, T0 + timedelta(minutes=1))
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0 + timedelta(minutes=2)) == "done"
        await uow.steps.release(REF)  # a done step is never released
        assert await uow.steps.start("r1/reminder:2:a1", T0) is None  # another step's own mark
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0 + timedelta(minutes=3)) == "done"


async def test_a_released_start_can_start_again(engine: EngineStore) -> None:
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0) is None
    async with engine.unit() as uow:
        await uow.steps.release(REF)
    async with engine.unit() as uow:
        assert await uow.steps.start(REF, T0) is None


async def test_a_step_done_without_a_start_is_done(engine: EngineStore) -> None:
    async with engine.unit() as uow:
        await uow.steps.done(REF, T0)
        assert await uow.steps.start(REF, T0) == "done"
