"""PostgreSQL migrations applied to a database that already holds rows give the right counts.

The schema is built at an older version with the migrations' own SQL, rows are written with
plain SQL as a gateway of that version would have (its triggers, where it had any, firing),
then a store opens it, migrates to the latest version, and ``/metrics``' counts (requests by
status, deliveries by channel and state, pending jobs by kind, messages by channel and kind)
must equal what the tables hold; and keep equal as rows change after the upgrade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.store.postgres import PostgresStore
from bot.store.postgres.queries import ENGINE
from bot.store.postgres.store import LATEST, MIGRATIONS
from bot.store.postgres.tx import numbered
from bot.store.probe import StoreProbe
from bot.store.usage import UsageStore

AT = "2026-01-05T09:00:00.000000+00:00"
# (id, status): requests of every kind of end, and some still pending
REQUESTS = [("r1", "pending"), ("r2", "pending"), ("r3", "approved"), ("r4", "rejected")]
REQUESTS += [("r5", "expired"), ("r6", "pending")]
# (id, request, channel, state)
DELIVERIES = [("d1", "r1", "lark", "sent"), ("d2", "r1", "dingtalk", "sent")]
DELIVERIES += [("d3", "r3", "lark", "approved"), ("d4", "r4", "email", "failed")]
DELIVERIES += [("d5", "r6", "lark", "pending")]
# (kind, state)
OUTBOX = [("send_card", "pending"), ("send_card", "pending"), ("update_card", "pending")]
OUTBOX += [("send_card", "done"), ("forward_decision", "done"), ("forward_decision", "dead")]
# (day, channel, account, kind, count)
USAGE = [("2026-01-05", "lark", "a1", "card", 3), ("2026-01-05", "lark", "a2", "card", 2)]
USAGE += [("2026-01-06", "dingtalk", "a1", "card", 4), ("2026-01-06", "lark", "a1", "update", 7)]


async def _at_version(url: str, version: int) -> None:
    """The schema as migrations up to ``version`` left it, recorded as such."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(ENGINE.create_schema_migrations)
        for number, description, sql in MIGRATIONS:
            if number <= version:
                await conn.execute(sql)
                await conn.execute(numbered(ENGINE.record_migration)[0], number, description, AT)
    finally:
        await conn.close()


async def _populate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)"
                " VALUES ($1, 'T-' || $1, $2, '{}', $3, $3)",
                [(rid, status, AT) for rid, status in REQUESTS],
            )
            await conn.executemany(
                "INSERT INTO deliveries (id, request_id, account_id, channel, state,"
                " created_at, updated_at) VALUES ($1, $2, 'a1', $3, $4, $5, $5)",
                [(*row, AT) for row in DELIVERIES],
            )
            await conn.executemany(
                "INSERT INTO outbox (kind, ref, state, next_attempt_at, created_at)"
                " VALUES ($1, 'ref', $2, $3, $3)",
                [(*row, AT) for row in OUTBOX],
            )
            await conn.executemany(
                "INSERT INTO usage (day, channel, account_id, kind, count)"
                " VALUES ($1, $2, $3, $4, $5)",
                USAGE,
            )
    finally:
        await conn.close()


async def _change(url: str) -> None:
    """What a gateway does next: a decision, a card sent, a job done, a message metered, a
    delivery removed with its request's retention."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("UPDATE requests SET status = 'approved' WHERE id = 'r1'")
            await conn.execute("UPDATE deliveries SET state = 'approved' WHERE request_id = 'r1'")
            await conn.execute("UPDATE deliveries SET state = 'sent' WHERE id = 'd5'")
            await conn.execute(
                "UPDATE outbox SET state = 'done' WHERE id = (SELECT MIN(id) FROM outbox"
                " WHERE state = 'pending')"
            )
            await conn.execute("UPDATE usage SET count = count + 1 WHERE account_id = 'a2'")
            await conn.execute("DELETE FROM deliveries WHERE id = 'd4'")
    finally:
        await conn.close()


async def _change_more(url: str) -> None:
    """After the upgrade: a request and its job added, one rejected, one deleted, a delivery
    moved to another channel, a new day of usage."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)"
                " VALUES ('r7', 'T-r7', 'pending', '{}', $1, $1)",
                AT,
            )
            await conn.execute(
                "INSERT INTO outbox (kind, ref, next_attempt_at, created_at)"
                " VALUES ('send_card', 'r7', $1, $1)",
                AT,
            )
            await conn.execute("UPDATE requests SET status = 'rejected' WHERE id = 'r2'")
            await conn.execute("DELETE FROM requests WHERE id = 'r5'")
            await conn.execute("UPDATE deliveries SET channel = 'email' WHERE id = 'd3'")
            await conn.execute(
                "INSERT INTO usage (day, channel, account_id, kind, count)"
                " VALUES ('2026-01-07', 'dingtalk', 'a3', 'card', 5)"
            )
    finally:
        await conn.close()


async def _table_counts(url: str) -> dict[str, dict[tuple[str, ...], int]]:
    """The counts as the tables hold them, read straight from the tables."""
    conn = await asyncpg.connect(url)
    try:
        queries = {
            "requests": "SELECT status, COUNT(*) FROM requests GROUP BY 1",
            "deliveries": "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY 1, 2",
            "outbox": "SELECT kind, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY 1",
            "usage": "SELECT channel, kind, SUM(count) FROM usage GROUP BY 1, 2",
        }
        return {
            name: {tuple(row[:-1]): int(row[-1]) for row in await conn.fetch(sql)}
            for name, sql in queries.items()
        }
    finally:
        await conn.close()


async def _metric_counts(store: PostgresStore) -> dict[str, dict[tuple[str, ...], int]]:
    """The counts as ``/metrics`` reads them."""
    gauges = await StoreProbe(store).gauges()
    return {
        "requests": {(status,): n for status, n in gauges.requests.items()},
        "deliveries": dict(gauges.deliveries.items()),
        "outbox": {(kind,): n for kind, n in gauges.outbox.items()},
        "usage": dict((await UsageStore(store).totals()).items()),
    }


@pytest.fixture
async def migrated(pg_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A populated database at the version in the test's parameter, then migrated to head."""
    await _at_version(pg_url, request.param)
    await _populate(pg_url)
    if request.param >= 2:
        await _change(pg_url)  # appended as deltas by 0002's triggers, not folded yet
    yield pg_url


@pytest.mark.parametrize("migrated", [1, 2, 3], indirect=True, ids=lambda v: f"from-{v:04d}")
async def test_counts_after_an_upgrade_match_the_tables(migrated: str) -> None:
    store = PostgresStore(migrated, pool_size=2)
    await store.open()
    try:
        versions = [v for v, _, _ in MIGRATIONS]
        async with store.read() as tx:
            row = await tx.fetch_one(ENGINE.schema_version)
        assert row is not None and row[0] == LATEST == versions[-1]
        expected = await _table_counts(migrated)
        assert expected["requests"] and expected["deliveries"] and expected["usage"]
        assert await _metric_counts(store) == expected
        await _change_more(migrated)  # counted by the latest version's triggers
        assert await _metric_counts(store) == await _table_counts(migrated)
    finally:
        await store.close()
