"""Every named query of the PostgreSQL engine parses and plans against its migrated schema
(as ``test_sql_in_one_place`` checks SQLite's), and the placeholders are numbered right."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import asyncpg

from bot.core.intake import ApprovalRequest
from bot.core.models import RequestStatus, StoredRequest
from bot.core.storage import ChannelAuthorization
from bot.store import queries
from bot.store.postgres import PostgresStore
from bot.store.postgres.store import MIGRATIONS
from bot.store.postgres.tx import numbered
from bot.store.probe import StoreProbe
from bot.store.repos.requests import RequestRows
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually


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


# The repositories' placeholders; any other brace is SQL's own (a '{}' JSON literal).
_TEMPLATE = re.compile(r"\{(marks|rows|kinds|filters)\}")


def _fill(sql: str, **parts: str) -> str:
    return _TEMPLATE.sub(lambda match: parts[match.group(1)], sql)


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
            for fragment in ["", *area] if _TEMPLATE.search(sql) else [""]:
                part = f" {_fill(fragment, marks=':k0')}" if fragment else ""
                text = _fill(sql, marks="?", rows="(?, 0)", kinds=part, filters=part)
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


async def test_a_scrape_reads_the_counts_kept_in_place_and_folds_those_of_gone_sessions(
    pg_url: str,
) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    await store.open()
    try:
        for i in range(3):
            async with store.unit() as tx:
                await tx.requests.insert(_request(f"r{i}"))
        # One row per count and session that changed it, not one per change.
        assert await _count(store, "request_counts") <= 2  # the pool's sessions
        assert (await StoreProbe(store).gauges()).requests == {"pending": 3}
        # A session that ends leaves its rows; a scrape folds them into slot 0.
        other = await asyncpg.connect(pg_url)
        gone = await other.fetchval("SELECT pg_backend_pid()")
        await other.execute("UPDATE requests SET status = 'approved' WHERE id = 'r0'")
        await other.close()

        async def folded() -> bool:
            await StoreProbe(store).gauges()  # the scrape folds
            return await _count(store, f"request_counts WHERE slot = {gone}") == 0

        await eventually(folded, within=10)  # once the server has ended the session
        assert (await StoreProbe(store).gauges()).requests == {"approved": 1, "pending": 2}
        # The scrape reads the counts, not the table: a row written past the triggers is not
        # seen, however many rows the table holds.
        async with store.write() as raw:
            await raw.execute("ALTER TABLE requests DISABLE TRIGGER USER")
            await RequestRows(raw).insert(_request("r-unseen"))
        assert (await StoreProbe(store).gauges()).requests == {"approved": 1, "pending": 2}
    finally:
        await store.close()


async def _count(store: PostgresStore, table: str) -> int:
    async with store.read() as tx:
        row = await tx.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"])


def _request(request_id: str) -> StoredRequest:
    ticket = ApprovalRequest.model_validate(
        sample_ticket(f"T-{request_id}", [approver("a1", "Ann")])
    )
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return StoredRequest(id=request_id, ticket=ticket, status=RequestStatus.PENDING, created_at=now)


async def test_a_consent_recorded_through_one_replica_wakes_the_others(pg_url: str) -> None:
    a, b = PostgresStore(pg_url, pool_size=2), PostgresStore(pg_url, pool_size=2)
    await a.open()
    await b.open()
    try:
        woken = asyncio.create_task(b.wait_for_consents(600))  # far beyond any periodic check
        record = ChannelAuthorization(
            channel="lark", state="revoked", by="admin", at=datetime.now(UTC), notice_version="v"
        )
        async with a.unit() as tx:
            await tx.credentials.record_consent(record)
        assert await asyncio.wait_for(woken, 30) is True  # the commit's NOTIFY, not a timeout
    finally:
        await a.close()
        await b.close()
