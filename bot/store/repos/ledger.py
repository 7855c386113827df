"""Usage metering and the audit trail (implements ``bot.core.ports.LedgerRepo``)."""

from __future__ import annotations

from datetime import datetime

from bot.store.codec import ts
from bot.store.repos.bound import Rows


class LedgerRows(Rows):
    """The ``usage`` counters and the append-only ``audit`` table."""

    async def meter(self, channel: str, account_id: str, kind: str, at: datetime) -> None:
        """Count one message for the channel, account and UTC day (a deferred write)."""
        await self._tx.defer(self.sql.meter, (ts(at)[:10], channel, account_id, kind))

    async def audit(
        self, at: datetime, who: str, action: str, target: str, detail: str, source: str
    ) -> None:
        """Append an audit record (a deferred write)."""
        await self._tx.defer(self.sql.insert_audit, (ts(at), who, action, target, detail, source))
