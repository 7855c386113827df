"""Bindings, preferences, tokens, the audit log and usage, through their ports, on every engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotFound
from bot.store.audit import AuditLog
from bot.store.bindings import BindingStore
from bot.store.engine import EngineStore
from bot.store.preferences import PreferenceStore
from bot.store.tokens import TokenStore
from bot.store.usage import UsageStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_bindings_set_page_and_remove(engine: EngineStore) -> None:
    bindings = BindingStore(engine)
    await bindings.set("a1", "lark", "ou_1", by="admin", method="api", at=T0)
    count = await bindings.set_many(
        [("a2", "lark", "ou_2"), ("a2", "email", "b@example.com"), ("a3", "email", "c@x.io")],
        by="admin",
        method="import",
        at=T0,
    )
    assert count == 3
    first = await bindings.list(limit=2)
    rest = await bindings.list(limit=2, cursor=first.next_cursor)
    seen = [(b.account_id, b.channel) for b in (*first.items, *rest.items)]
    assert seen == [("a1", "lark"), ("a2", "email"), ("a2", "lark"), ("a3", "email")]
    assert rest.next_cursor is None
    unbound = await bindings.list(channel="lark", unbound=True)
    assert [b.account_id for b in unbound.items] == ["a3"]  # bound elsewhere, not on lark
    async with engine.snapshot() as tx:
        assert await tx.identities.binding_owner("lark", "ou_2") == "a2"
    assert await bindings.remove("a2", "lark", by="admin", at=T0)
    assert not await bindings.remove("a2", "lark", by="admin", at=T0)
    assert [b.channel for b in await bindings.get("a2")] == ["email"]
    with pytest.raises(InvalidInput):
        await bindings.list(cursor="not-a-cursor")


async def test_the_first_bound_of_each_channel_in_one_read(engine: EngineStore) -> None:
    rows = [(f"a{i}", "lark", f"ou_{i}") for i in (3, 1, 2)] + [("a1", "ding", "s1")]
    await BindingStore(engine).set_many(rows, by="admin", method="import", at=T0)
    async with engine.snapshot() as tx:
        found = await tx.identities.first_bound(["lark", "ding", "email"], 2)
    assert found == {"lark": [("a1", "ou_1"), ("a2", "ou_2")], "ding": [("a1", "s1")], "email": []}


async def test_preferences_default_then_change(engine: EngineStore) -> None:
    prefs = PreferenceStore(engine)
    assert (await prefs.get("a1")).channel_order is None
    await prefs.set("a1", order=("email", "lark"), email_enabled=False, by="a1", at=T0)
    stored = await prefs.get("a1")
    assert stored.channel_order == ("email", "lark") and stored.email_enabled is False
    async with engine.snapshot() as tx:
        route = await tx.identities.route_preference("a1")
    assert route.channel_order == ("email", "lark") and route.email_enabled is False
    await prefs.set("a1", order=(), email_enabled=None, by="a1", at=T0)
    assert (await prefs.get("a1")).channel_order is None


async def test_tokens_resolve_until_revoked(engine: EngineStore) -> None:
    tokens = TokenStore(engine)
    record = await tokens.create("secret-token", "admin", "ops", T0)
    resolved = await tokens.resolve("secret-token")
    assert resolved is not None and resolved.id == record.id and resolved.role == "admin"
    assert [t.id for t in await tokens.list()] == [record.id]
    await tokens.revoke(record.id, T0)
    assert await tokens.resolve("secret-token") is None
    with pytest.raises(NotFound):
        await tokens.revoke(record.id, T0)


async def test_audit_pages_newest_first_with_filters(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        for n in range(5):
            await tx.ledger.audit(
                T0 + timedelta(minutes=n), f"u{n % 2}", "thing.do", f"t{n}", "", "api"
            )
    log = AuditLog(engine)
    page = await log.page(limit=2)
    assert [e.target for e in page.items] == ["t4", "t3"] and page.next_before is not None
    more = await log.page(limit=2, before=page.next_before)
    assert [e.target for e in more.items] == ["t2", "t1"]
    mine = await log.page(who="u1", since=T0 + timedelta(minutes=2))
    assert [e.target for e in mine.items] == ["t3"]
    assert (await log.page(action="other")).items == []


async def test_usage_is_metered_per_day_channel_and_account(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.ledger.meter("lark", "a1", "sent", T0)
        await tx.ledger.meter("lark", "a1", "sent", T0)
        await tx.ledger.meter("lark", "a2", "updated", T0 + timedelta(days=1))
        await tx.ledger.meter("email", "a1", "sent", T0)
    usage = UsageStore(engine)
    report = await usage.report(date(2026, 1, 5), date(2026, 1, 6), channel="lark")
    assert [(r.day, r.sent, r.updated) for r in report.rows] == [
        ("2026-01-05", 2, 0),
        ("2026-01-06", 0, 1),
    ]
    by_account = await usage.report(date(2026, 1, 5), date(2026, 1, 5), group_by="account")
    assert {(r.account_id, r.channel): r.sent for r in by_account.rows} == {
        ("a1", "lark"): 2,
        ("a1", "email"): 1,
    }
    assert (await usage.totals())[("lark", "sent")] == 2
    assert (await usage.month(T0 + timedelta(days=3)))["lark"] == {
        "sent": 2,
        "updated": 1,
        "urgent_sms": 0,  # every kind a channel is billed for, counted or not
        "urgent_phone": 0,
    }
