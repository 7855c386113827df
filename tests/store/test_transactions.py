"""Units of work are explicit: a unit opened while the same task holds one is refused (nothing
joins implicitly), a task started inside a unit gets its own, and the callbacks a unit collects
run only once it has committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.sqlite import SqliteStore

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "gateway.db")
    await opened.open()
    return opened


async def _audits(store: SqliteStore) -> int:
    async with store.read() as tx:
        row = await tx.fetch_one("SELECT COUNT(*) FROM audit")
    return int(row[0]) if row else 0


async def test_a_nested_unit_is_refused_and_the_outer_rolls_back(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="pass its unit of work down"):
        async with store.unit() as outer:
            await outer.ledger.audit(AT, "t", "outer", "", "", "")
            async with store.snapshot():
                pass
    assert await _audits(store) == 0
    await store.close()


async def test_a_task_started_inside_a_unit_gets_its_own(store: SqliteStore) -> None:
    async def later() -> object:
        async with store.unit() as uow:
            await uow.ledger.audit(AT, "t", "later", "", "", "")
            return uow

    async with store.unit() as outer:
        task = asyncio.create_task(later())
    assert await task is not outer
    assert await _audits(store) == 1
    await store.close()


async def test_callbacks_run_after_the_commit_and_never_on_rollback(store: SqliteStore) -> None:
    seen: list[int] = []

    async def count() -> None:
        seen.append(await _audits(store))

    async with store.unit() as uow:
        await uow.ledger.audit(AT, "t", "kept", "", "", "")
        uow.on_commit(lambda: seen.append(-1))
        assert seen == []
    assert seen == [-1]
    await count()
    assert seen == [-1, 1]  # the callback came once the change was there to read

    with pytest.raises(StoreError, match="boom"):
        async with store.unit() as uow:
            uow.on_commit(lambda: seen.append(-2))
            raise StoreError("boom")
    assert seen == [-1, 1]
    await store.close()
