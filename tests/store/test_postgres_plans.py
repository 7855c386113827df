"""The PostgreSQL store's hot lookups stay cheap plans after a bulk load: a request read by id
or by ticket walks the unique index, and no statement of the gateway's pool is JIT-compiled.

After a bulk load the tables have no statistics until autovacuum's analyse comes round, and the
planner's guesses for the correlated subqueries of ``get_request`` (the deliveries of a request,
the events of a delivery) inflate its cost estimate past ``jit_above_cost``: every call then
compiled its expressions again (a second each on a loaded host, for a lookup of a third of a
millisecond). The JIT threshold is lowered here through the URL (query parameters are server
settings of every connection), so a few thousand rows cross it as 100,000 do at the default.

And a store that migrates a schema holding rows leaves it analysed: the planner's row counts
are the tables' own, not guesses.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from bot.store.postgres import PostgresStore
from bot.store.postgres.queries import ENGINE, POSTGRES
from bot.store.postgres.store import LATEST, MIGRATIONS
from bot.store.postgres.tx import numbered

ROWS = 3000
AT = "2026-01-05T09:00:00.000000+00:00"


async def _seed(conn: asyncpg.Connection, rows: int) -> None:
    """``rows`` pending requests with two deliveries and one event each, in three statements
    (a bulk load: nothing analyses the tables after it)."""
    await conn.execute(
        "INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)"
        " SELECT 'r' || g, 'T-' || g, 'pending', '{}', $2, $2 FROM generate_series(1, $1) g",
        rows,
        AT,
    )
    await conn.execute(
        "INSERT INTO deliveries (id, request_id, account_id, channel, state, created_at,"
        " updated_at) SELECT 'd' || g || '-' || k, 'r' || g, 'a' || k, 'lark', 'sent', $2, $2"
        " FROM generate_series(1, $1) g, generate_series(1, 2) k",
        rows,
        AT,
    )
    await conn.execute(
        "INSERT INTO delivery_events (delivery_id, at, state, detail)"
        " SELECT 'd' || g || '-' || k, $2, 'sent', '' FROM generate_series(1, $1) g,"
        " generate_series(1, 2) k",
        rows,
        AT,
    )


async def _plan(store: PostgresStore, sql: str, arg: str) -> dict[str, Any]:
    """The executed plan of ``sql`` on one of the store's own pooled connections."""
    async with store.read() as tx:
        text = await tx.conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", arg)
    plan: dict[str, Any] = json.loads(text)[0]
    return plan


async def test_a_request_read_by_id_or_ticket_uses_its_index_and_no_jit(pg_url: str) -> None:
    store = PostgresStore(pg_url + "&jit_above_cost=10", pool_size=2)
    await store.open()
    try:
        async with store.write() as tx:
            await _seed(tx.conn, ROWS)
        for name, arg, index in (
            ("get_request", "r17", "requests_pkey"),
            ("find_request", "T-17", "requests_ticket_id_key"),
        ):
            plan = await _plan(store, numbered(getattr(POSTGRES, name))[0], arg)
            top = plan["Plan"]
            assert "JIT" not in plan, (name, plan["JIT"])
            assert top["Node Type"] == "Index Scan", (name, top)
            assert top["Index Name"] == index, (name, top)
            assert top["Actual Rows"] == 1, (name, top)
    finally:
        await store.close()


async def test_migrating_a_schema_with_rows_leaves_its_tables_analysed(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(ENGINE.create_schema_migrations)
        for number, description, sql in MIGRATIONS[:-1]:
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(numbered(ENGINE.record_migration)[0], number, description, AT)
        await _seed(conn, ROWS)
        store = PostgresStore(pg_url, pool_size=2)
        await store.open()
        await store.close()
        counted = {
            r["relname"]: r["reltuples"]
            for r in await conn.fetch(
                "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = current_schema()::regnamespace"
                " AND relname IN ('requests', 'deliveries', 'delivery_events')"
            )
        }
    finally:
        await conn.close()
    assert MIGRATIONS[-1][0] == LATEST
    assert counted == {"requests": ROWS, "deliveries": 2 * ROWS, "delivery_events": 2 * ROWS}
