"""The append-only audit log: who did what to which target, when, and from where.

Records are written in the same transaction as the change they describe, so the log never claims
what did not happen nor misses what did. There is no update or delete here by design.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.storage import AuditEntry, AuditPage
from bot.core.validation import MAX_PAGE, parse_bound
from bot.store.codec import parse_ts, ts
from bot.store.engine import EngineStore
from bot.store.repos.ledger import LedgerRows
from bot.store.tx import EngineTx

__all__ = ["MAX_PAGE", "AuditEntry", "AuditLog", "AuditPage", "audit", "parse_bound"]


async def audit(
    tx: EngineTx,
    at: datetime,
    who: str,
    action: str,
    target: str = "",
    detail: str = "",
    source: str = "",
) -> None:
    """Append a record inside the caller's transaction."""
    await LedgerRows(tx).audit(at, who, action, target, detail, source)


class AuditLog:
    """Reads the audit log."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store

    async def page(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        action: str | None = None,
        who: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AuditPage:
        """Newest first, optionally filtered; pass ``next_before`` back for the next page."""
        # Each given filter adds its fragment: the audit_action index serves an action filter,
        # which an "(? IS NULL OR action = ?)" form would hide from the planner.
        filters: list[tuple[str, str | int | None]] = [
            (self._store.sql.audit_action, action),
            (self._store.sql.audit_who, who),
            (self._store.sql.audit_target, target),
            (self._store.sql.audit_before, before),
            (self._store.sql.audit_since, None if since is None else ts(since)),
            (self._store.sql.audit_until, None if until is None else ts(until)),
        ]
        given = [(fragment, value) for fragment, value in filters if value is not None]
        sql = self._store.sql.audit_page.format(
            filters="".join(f" {fragment}" for fragment, _ in given)
        )
        params = [value for _, value in given]
        async with self._store.read() as tx:
            rows = await tx.fetch_all(sql, [*params, min(limit, MAX_PAGE) + 1])
        items = [
            AuditEntry(
                id=r["id"],
                at=parse_ts(r["at"]),
                who=r["who"],
                action=r["action"],
                target=r["target"],
                detail=r["detail"],
                source=r["source"],
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return AuditPage(items=items, next_before=items[-1].id if more and items else None)
