"""A Lark call's budgets (the API's per-second pace, its minute's window, the message's own
five a second) are reserved at once: one write transaction per call on SQLite, one statement on
PostgreSQL, however many budgets and windows it draws on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asyncpg.connection import LoggedQuery

from bot.channels.lark.api import Answer
from bot.channels.lark.messages import Messages
from bot.core.limits import RateLimits
from bot.settings.config import LarkSettings
from bot.store.limits import StoredRateLimits
from bot.store.postgres import PostgresStore
from bot.store.postgres.limits import PostgresRateLimits
from bot.store.postgres.tx import PostgresTx
from bot.store.sqlite import SqliteStore
from bot.store.sqlite.tx import SqliteTx
from tests.support.clock import MovableClock
from tests.support.pacing import VirtualTimer

PATCHES = 3


class Platform:
    """Lark's OpenAPI answering every call, counting the PATCHes."""

    def __init__(self) -> None:
        self.patches = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | bytes | None = None,
    ) -> Answer:
        self.patches += method == "PATCH"
        return Answer(200, {}, {"code": 0, "tenant_access_token": "t-1", "expire": 7200})


class CountingStore(SqliteStore):
    """A SQLite store counting its write transactions and the statements run in them."""

    writes = 0
    statements = 0

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[SqliteTx]:
        self.writes += 1
        async with super().write(urgent=urgent) as tx:
            raw = tx._raw  # the connection this transaction holds
            raw.set_trace_callback(self._count)
            try:
                yield tx
            finally:
                raw.set_trace_callback(None)

    def _count(self, statement: str) -> None:
        self.statements += 1


async def patch_cards(limits: RateLimits, timer: VirtualTimer, first: int = 0) -> Platform:
    """PATCH three messages through the Lark client after its token is fetched, on ``timer``
    (no wake-up is late: none takes a second slot)."""
    platform = Platform()
    messages = Messages(LarkSettings(), "cli_app", "secret", limits)
    messages.transport = platform  # type: ignore[assignment]
    messages.token._transport = platform  # type: ignore[assignment]
    messages.timer = timer
    await messages.token.get()

    async def patches() -> None:
        for i in range(PATCHES):
            await messages.patch(f"om_{first + i}", "{}", f"ou_{i}")

    await timer.run([patches()])
    return platform


async def test_a_lark_call_is_one_write_transaction_of_three_statements_on_sqlite(
    tmp_path: Path,
) -> None:
    # The counter with the pace and the message's budget, then the window's lane, then one
    # write of every budget moved (eight statements before: a seed and a read twice, and a
    # write per budget).
    clock = MovableClock(1_000_000.0)
    store = CountingStore(tmp_path / "gateway.db")
    await store.open()
    try:
        writes, statements = store.writes, store.statements
        platform = await patch_cards(StoredRateLimits(store, now=clock), VirtualTimer(clock))
    finally:
        await store.close()
    assert platform.patches == PATCHES
    assert store.writes - writes == PATCHES
    assert store.statements - statements == 3 * PATCHES


async def test_a_lark_call_is_one_statement_on_postgresql(pg_url: str) -> None:
    clock = MovableClock(1_000_000.0)
    store = PostgresStore(pg_url, pool_size=1)
    await store.open()
    sent: list[str] = []

    def log(record: LoggedQuery) -> None:
        sent.append(" ".join(record.query.split())[:40])

    try:
        timer, limits = VirtualTimer(clock), PostgresRateLimits(store, now=clock)
        await patch_cards(limits, timer)  # the driver learns the argument types once
        async with store.read() as tx:  # the pool's one connection
            assert isinstance(tx, PostgresTx)
            conn = tx.conn._con  # the connection behind the pool's proxy
        conn.add_query_logger(log)
        platform = await patch_cards(limits, timer, first=PATCHES)
        await asyncio.sleep(0)  # the driver calls its loggers on the next turn of the loop
        conn.remove_query_logger(log)
    finally:
        await store.close()
    assert platform.patches == PATCHES
    assert sent == ["SELECT granted, wait, at, turns FROM res"] * PATCHES, sent
