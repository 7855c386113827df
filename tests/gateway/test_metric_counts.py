"""The counts behind /metrics are kept as rows change, and agree with the tables they count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp

from bot.core.models import ClickAction
from bot.store.probe import StoreProbe
from bot.store.sqlite import SqliteStore
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts

TRUTH = {
    "request_counts": "SELECT status, COUNT(*) FROM requests GROUP BY status",
    "delivery_counts": "SELECT channel || '/' || state, COUNT(*) FROM deliveries GROUP BY 1",
    "outbox_counts": "SELECT kind, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY kind",
}
KEPT = {
    "request_counts": "SELECT status, n FROM request_counts WHERE n <> 0",
    "delivery_counts": "SELECT channel || '/' || state, n FROM delivery_counts WHERE n <> 0",
    "outbox_counts": "SELECT kind, n FROM outbox_counts WHERE n <> 0",
}


def _agree(db: Path) -> bool:
    with sqlite3.connect(db) as conn:  # one snapshot: both sides read the same commit
        conn.execute("BEGIN")
        truth = {name: dict(conn.execute(sql).fetchall()) for name, sql in TRUTH.items()}
        kept = {name: dict(conn.execute(sql).fetchall()) for name, sql in KEPT.items()}
    assert kept == truth
    return True


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as r:
        return await r.text()


async def test_counts_follow_submits_sends_decisions_and_withdrawals(stack: object) -> None:
    gateway, backend, memory = parts(stack)
    db = gateway.gateway.settings.db_path
    for name in ("M-1", "M-2", "M-3"):
        await backend.submit(sample_ticket(name, [approver("a1", "Ann"), approver("a2", "Bob")]))
    _agree(db)  # cards still queued in the outbox

    async def all_sent() -> bool:
        return len(memory.cards) == 6

    await eventually(all_sent)
    first = next(card for card in memory.cards.values() if card.view.ticket_id == "M-1")
    await memory.click(first.address, first.delivery_id, ClickAction.APPROVE)
    await backend.wait_for_decision("M-1")
    assert (await backend.withdraw("M-2"))[0] == 200

    async def redrawn() -> bool:
        with sqlite3.connect(db) as conn:
            updated = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'updated'")
            return bool(updated.fetchone()[0] == 4)

    await eventually(redrawn)
    assert _agree(db)
    text = await _scrape(gateway.gateway.url)
    for status in ("approved", "withdrawn", "pending"):
        assert f'gateway_requests_by_status{{status="{status}"}} 1.0' in text
    assert 'gateway_deliveries{channel="memory",state="updated"} 4.0' in text
    assert 'gateway_deliveries{channel="memory",state="sent"} 2.0' in text
    assert 'gateway_deliveries{channel="memory",state="queued"}' not in text  # no zero rows


async def test_an_existing_database_gets_its_counts_on_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "gateway.db"
    store = SqliteStore(db)
    await store.open()
    await store.close()
    with sqlite3.connect(db) as conn:  # back to schema 10, as a gateway before 0013 left it
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f"DROP TRIGGER {name}")
        for table in KEPT:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP TABLE usage_counts")
        conn.execute("DROP TABLE votes")  # 0014, after 0013
        conn.execute("DROP TABLE delegations")  # 0016
        conn.execute("DROP INDEX outbox_identity_notices")  # 0017
        conn.execute("DROP INDEX outbox_timing_steps")  # 0015
        conn.execute("ALTER TABLE account_preferences DROP COLUMN time_zone")  # 0018
        conn.execute("DROP INDEX outbox_pending_redraws")  # 0019
        conn.execute("ALTER TABLE requests DROP COLUMN roster_changes")  # 0020
        conn.execute("ALTER TABLE channel_authorizations DROP COLUMN paid_urgency")  # 0021
        conn.execute("DROP TABLE step_runs")  # 0022
        conn.execute("DROP INDEX outbox_due_by_channel")  # 0023
        conn.execute("ALTER TABLE outbox DROP COLUMN channel")  # 0023
        conn.execute("DELETE FROM schema_migrations WHERE version >= 13")
        at = "2026-12-01T00:00:00.000000Z"
        for i, status in enumerate(["pending", "pending", "approved"]):
            conn.execute(
                "INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)"
                " VALUES (?, ?, ?, '{}', ?, ?)",
                (f"r{i}", f"t{i}", status, at, at),
            )
            conn.execute(
                "INSERT INTO deliveries (id, request_id, account_id, channel, address, state,"
                " created_at, updated_at) VALUES (?, ?, 'a1', 'memory', 'x', 'sent', ?, ?)",
                (f"d{i}", f"r{i}", at, at),
            )
    store = SqliteStore(db)
    await store.open()  # migrates to 13: the counts start from what the tables hold
    try:
        assert _agree(db)
        gauges = await StoreProbe(store).gauges()
        assert gauges.requests == {"pending": 2, "approved": 1}
        assert gauges.deliveries == {("memory", "sent"): 3}
    finally:
        await store.close()
