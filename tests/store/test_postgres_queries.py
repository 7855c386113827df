"""Every named query of the PostgreSQL engine parses and plans against its migrated schema
(as ``test_sql_in_one_place`` checks SQLite's), and the placeholders are numbered right."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.store import queries
from bot.store.postgres import PostgresStore
from bot.store.postgres.store import MIGRATIONS
from bot.store.postgres.tx import numbered


def test_placeholders_are_numbered_and_literals_and_casts_left_alone() -> None:
    assert numbered("SELECT a FROM t WHERE b = ? AND c = ?") == (
        "SELECT a FROM t WHERE b = $1 AND c = $2",
        (),
    )
    assert numbered("UPDATE t SET a = :x WHERE b <= :now AND c <= :now") == (
        "UPDATE t SET a = $1 WHERE b <= $2 AND c <= $2",
        ("x", "now"),
    )
    assert numbered("SELECT '?', ':no', 1::int, \"x?\" FROM t WHERE a = ?")[0] == (
        "SELECT '?', ':no', 1::int, \"x?\" FROM t WHERE a = $1"
    )


async def test_every_named_query_prepares_on_the_migrated_schema(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    await store.open()
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        found = queries.load_all("bot.store.postgres")
        fragments = {name: sql for name, sql in found.items() if sql.startswith("AND ")}
        for name, sql in found.items():
            if name in fragments:
                continue
            area = [f for n, f in fragments.items() if n.split("_")[0] == name.split("_")[0]]
            for fragment in ["", *area] if "{" in sql else [""]:
                part = f" {fragment.format(marks=':k0')}" if fragment else ""
                text = sql.format(marks="?", rows="(?, 0)", kinds=part, filters=part)
                await conn.prepare(numbered(text)[0])  # raises on a syntax or schema error
    finally:
        await conn.close()


async def test_replicas_starting_together_migrate_once_under_the_advisory_lock(
    pg_url: str,
) -> None:
    stores = [PostgresStore(pg_url, pool_size=2) for _ in range(3)]
    await asyncio.gather(*(store.open(migrate=False) for store in stores))
    try:
        applied = await asyncio.gather(*(store.migrate() for store in stores))
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert sorted(applied) == [[], [], [version for version, _, _ in MIGRATIONS]]
