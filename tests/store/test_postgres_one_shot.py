"""A one-shot PostgreSQL store (what a CLI command opens): it migrates a new schema, refuses a
newer one, does not take the migrating transaction's lock on an up-to-date schema, and holds
no LISTEN connection."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.errors import StoreError
from bot.store.postgres import PostgresStore
from bot.store.postgres.queries import ENGINE
from bot.store.postgres.store import LATEST
from bot.store.postgres.tx import numbered

AT = "2026-01-05T09:00:00.000000+00:00"


async def test_a_one_shot_store_migrates_a_new_schema(pg_url: str) -> None:
    store = PostgresStore(pg_url, one_shot=True)
    await store.open()
    try:
        async with store.read() as tx:
            row = await tx.fetch_one(ENGINE.schema_version)
        assert row is not None and row[0] == LATEST
    finally:
        await store.close()


async def test_a_one_shot_store_listens_for_no_other_process(pg_url: str) -> None:
    store = PostgresStore(pg_url, one_shot=True)
    await store.open()
    try:
        assert store.listener_problem() is not None  # never listening: nothing it does waits
    finally:
        await store.close()


async def test_an_up_to_date_schema_opens_while_another_process_holds_the_migration_lock(
    pg_url: str,
) -> None:
    first = PostgresStore(pg_url, pool_size=2)
    await first.open()
    await first.close()
    holder = await asyncpg.connect(pg_url)
    try:
        async with holder.transaction():
            await holder.execute(ENGINE.migration_lock)
            store = PostgresStore(pg_url, one_shot=True)
            # Would wait for the lock for as long as it is held if it took the migrating path.
            await asyncio.wait_for(store.open(), timeout=30)
            await store.close()
    finally:
        await holder.close()


async def test_a_schema_newer_than_the_gateway_is_refused(pg_url: str) -> None:
    first = PostgresStore(pg_url, pool_size=2)
    await first.open()
    await first.close()
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(numbered(ENGINE.record_migration)[0], LATEST + 1, "from the future", AT)
    finally:
        await conn.close()
    store = PostgresStore(pg_url, one_shot=True)
    with pytest.raises(StoreError, match="newer than this gateway"):
        await store.open()
    await store.close()
