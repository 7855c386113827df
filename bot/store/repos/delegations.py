"""Delegations while away (implements ``bot.core.ports.DelegationRepo``)."""

from __future__ import annotations

from datetime import datetime

from bot.core.delegation import Delegation
from bot.store.codec import parse_ts, ts
from bot.store.repos.bound import Rows
from bot.store.tx import EngineTx, Row


class DelegationRows(Rows):
    """The ``delegations`` table: one row per approver and window start.

    Within one unit :meth:`current` is read once per moment: a submission plans a card per
    approver, each asking who acts for them, and the table rarely changes (a write here forgets
    what was read)."""

    def __init__(self, tx: EngineTx) -> None:
        super().__init__(tx)
        self._read: dict[datetime, list[Delegation]] = {}

    async def add(self, delegation: Delegation, at: datetime) -> None:
        """Store one (checked by the caller against :meth:`current`, in the same unit)."""
        self._read.clear()
        d = delegation
        await self._tx.execute(
            self.sql.add_delegation,
            (d.account_id, d.delegate_id, ts(d.starts_at), ts(d.ends_at), d.set_by, ts(at)),
        )

    async def current(self, now: datetime) -> list[Delegation]:
        """Every delegation not ended at ``now``, by approver and start."""
        if now not in self._read:
            self._read[now] = await self._read_current(now)
        return list(self._read[now])

    async def _read_current(self, now: datetime) -> list[Delegation]:
        rows = await self._tx.fetch_all(self.sql.current_delegations, (ts(now),))
        return [delegation(row) for row in rows]

    async def clear(self, account_id: str, now: datetime) -> int:
        """Drop the approver's delegations not ended at ``now``; how many."""
        self._read.clear()
        return await self._tx.execute(self.sql.clear_delegations, (account_id, ts(now)))


def delegation(row: Row) -> Delegation:
    """A delegation row (or the same keys in a JSON object)."""
    return Delegation(
        account_id=row["account_id"],
        delegate_id=row["delegate_id"],
        starts_at=parse_ts(row["starts_at"]),
        ends_at=parse_ts(row["ends_at"]),
        set_by=row["set_by"],
    )
