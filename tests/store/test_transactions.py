"""A write inside a write joins it; a task started inside a write does not write outside one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "gateway.db")
    await opened.open()
    return opened


async def _count(store: SqliteStore) -> int:
    async with store.read() as tx:
        row = await tx.fetch_one("SELECT COUNT(*) FROM write_probe")
    return int(row[0]) if row else 0


async def test_a_nested_write_joins_and_rolls_back_with_the_outer(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="boom"):
        async with store.write() as outer:
            async with store.write() as inner:
                assert inner is outer
                await inner.execute("INSERT INTO write_probe (id, at) VALUES (1, 'x')")
            raise StoreError("boom")
    assert await _count(store) == 0
    await store.close()


async def test_a_task_started_inside_a_write_gets_its_own_transaction(store: SqliteStore) -> None:
    async def later() -> object:
        async with store.write() as tx:
            await tx.execute("INSERT INTO write_probe (id, at) VALUES (1, 'x')")
            return tx

    async with store.write() as outer:
        task = asyncio.create_task(later())  # copies the context, with the outer transaction
    # It runs after the outer committed: it must open its own, not write outside any.
    assert await task is not outer
    assert await _count(store) == 1
    await store.close()
