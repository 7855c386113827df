"""``python -m bench.pg_counts [ROWS]``: what a PostgreSQL ``/metrics`` scrape costs as history grows.

On a schema of its own (on ``APPROVAL_GATEWAY_TEST_DATABASE_URL``, dropped after), migrated by
the product's store: the gauges a scrape reads (``StoreProbe.gauges``, folding included) timed
empty, right after ``ROWS`` requests, deliveries and pending jobs are written in one statement
each (default 100,000), and after 3,000 closing transactions with no scrape between them; then
the plan and buffers of the request counts' read. Writes are timed too: what the counts'
triggers cost the writers.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from bench.pgdb import statement
from bot.store.postgres import PostgresStore
from bot.store.probe import StoreProbe
from tests.store.engines import URL, with_schema

CLOSES = 3000
SCRAPES = 5


async def _scrapes(probe: StoreProbe, label: str, times: int = SCRAPES) -> None:
    samples = []
    for _ in range(times):
        t0 = time.perf_counter()
        await probe.gauges()
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"{label}: scrape ms " + " ".join(f"{ms:.1f}" for ms in samples), flush=True)


async def _timed(label: str, work: Callable[[], Awaitable[None]], per: int = 1) -> None:
    t0 = time.perf_counter()
    await work()
    ms = (time.perf_counter() - t0) / per * 1000
    print(f"{label}: {ms:,.2f} ms" + (" each" if per > 1 else ""), flush=True)


async def measure(url: str, rows: int) -> None:
    """The figures above, on the database at ``url`` (migrated here)."""
    store = PostgresStore(url)
    await store.open()
    conn = await asyncpg.connect(url)
    probe = StoreProbe(store)
    try:
        await _scrapes(probe, "empty")

        async def seed() -> None:
            for sql in statement("counts_seed").split(";"):
                await conn.execute(sql, rows)

        async def closes() -> None:
            for k in range(1, CLOSES + 1):
                async with conn.transaction():
                    for sql in statement("counts_close").split(";"):
                        await conn.execute(sql, k)

        await _timed(f"writing {rows:,} rows into each of 3 tables", seed)
        await _scrapes(probe, f"after {rows:,} rows")
        await _timed(f"{CLOSES:,} closing transactions (3 counted updates)", closes, CLOSES)
        await _scrapes(probe, f"after {CLOSES:,} closes, the first", 1)
        await _scrapes(probe, "then")
        for (line,) in await conn.fetch(statement("counts_explain")):
            print("   ", line)
    finally:
        await conn.close()
        await store.close()


async def main(rows: int) -> None:
    """Measure on a schema of this run's own, dropped after."""
    schema = f"bench_counts_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(URL)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        await measure(with_schema(URL, schema), rows)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
