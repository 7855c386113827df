"""Reading usage: messages the platforms took, per UTC day, channel and account.

Rows are written by ``EngineTx.meter`` in the transaction that marks a delivery sent or updated,
so the counts are the billable messages, however many attempts each took.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.core.storage import GroupBy, UsageReport, UsageRow
from bot.core.validation import USAGE_KINDS as KINDS
from bot.core.validation import month_start, parse_day
from bot.errors import InvalidInput
from bot.store.engine import EngineStore

__all__ = [
    "KINDS",
    "GroupBy",
    "UsageReport",
    "UsageRow",
    "UsageStore",
    "month_start",
    "parse_day",
]


class UsageStore:
    """Queries over the ``usage`` table."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store

    async def report(
        self, start: date, end: date, *, channel: str | None = None, group_by: GroupBy = "day"
    ) -> UsageReport:
        """Counts from ``start`` to ``end`` (inclusive, UTC days), by day or by account."""
        if end < start:
            raise InvalidInput("empty range", {"to": "must not be before from"})
        key = "day" if group_by == "day" else "account_id"
        query = (
            self._store.sql.usage_by_day if group_by == "day" else self._store.sql.usage_by_account
        )
        params = [start.isoformat(), end.isoformat()]
        if channel:
            params.append(channel)
        sql = query.format(filters=f" {self._store.sql.usage_channel}" if channel else "")
        async with self._store.read() as tx:
            rows = await tx.fetch_all(sql, params)
        grouped: dict[tuple[str, str], dict[str, int]] = {}
        totals: dict[str, dict[str, int]] = {}
        for row in rows:
            kind, n = row["kind"], int(row["n"])
            counts = grouped.setdefault((row["k"], row["channel"]), dict.fromkeys(KINDS, 0))
            counts[kind] = counts.get(kind, 0) + n
            per_channel = totals.setdefault(row["channel"], dict.fromkeys(KINDS, 0))
            per_channel[kind] = per_channel.get(kind, 0) + n
        items = [
            UsageRow(channel=channel, **{key: k}, **counts)
            for (k, channel), counts in grouped.items()
        ]
        return UsageReport(
            from_day=start.isoformat(),
            to_day=end.isoformat(),
            group_by=group_by,
            rows=items,
            totals=totals,
        )

    async def month(self, now: datetime) -> dict[str, dict[str, int]]:
        """Per channel, messages sent and updated since the start of ``now``'s month (UTC)."""
        today = now.date()
        return (await self.report(month_start(today), today)).totals

    async def totals(self) -> dict[tuple[str, str], int]:
        """All-time messages per (channel, kind), for ``/metrics``."""
        async with self._store.read() as tx:
            rows = await tx.fetch_all(self._store.sql.usage_totals)
        return {(row["channel"], row["kind"]): row["n"] for row in rows}
