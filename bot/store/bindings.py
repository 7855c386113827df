"""Bindings between cloud accounts and chat identities (account_id ↔ address per channel).

Every binding records who made it (``bound_by``: a token id, a CLI user, ``sandbox``), how
(``method``: ``admin-api``, ``admin-cli``, ``import``, ``sandbox``, ...) and when.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from datetime import datetime

from bot.core.storage import Binding, BindingPage
from bot.core.validation import ACCOUNT_ID, KNOWN_CHANNELS, MAX_PAGE, check_binding
from bot.errors import InvalidInput
from bot.logs import kv
from bot.store.codec import parse_ts
from bot.store.repos.identities import IdentityRows
from bot.store.repos.ledger import LedgerRows
from bot.store.tx import EngineTx, Row, Scope

log = logging.getLogger("bot.store.bindings")

# Named here too for callers that still import them from the store.
__all__ = [
    "ACCOUNT_ID",
    "KNOWN_CHANNELS",
    "MAX_PAGE",
    "Binding",
    "BindingPage",
    "BindingStore",
    "check_binding",
    "decode_cursor",
    "encode_cursor",
]


def encode_cursor(account_id: str, channel: str) -> str:
    """An opaque cursor: the key of the last row of a page."""
    return base64.urlsafe_b64encode(json.dumps([account_id, channel]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The key a cursor names; InvalidInput if it was not made by :func:`encode_cursor`."""
    try:
        account_id, channel = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise InvalidInput(
            "invalid cursor", {"cursor": "not a cursor from a previous page"}
        ) from None
    if not isinstance(account_id, str) or not isinstance(channel, str):
        raise InvalidInput("invalid cursor", {"cursor": "not a cursor from a previous page"})
    return account_id, channel


class BindingStore:
    """Reads and writes identity bindings."""

    def __init__(self, store: Scope) -> None:
        self._store = store

    async def set(
        self, account_id: str, channel: str, address: str, *, by: str, method: str, at: datetime
    ) -> Binding:
        """Bind (or re-bind) ``account_id`` on ``channel`` to ``address``."""
        async with self._store.write() as tx:
            await _upsert(tx, account_id, channel, address, by, method, at)
        # An audit line; the address itself is personal data and stays out of the log.
        log.info(
            "binding set",
            extra=kv(account_id=account_id, channel=channel, by=by, method=method),
        )
        return Binding(
            account_id=account_id,
            channel=channel,
            address=address,
            bound_by=by,
            method=method,
            bound_at=at,
        )

    async def set_many(
        self, rows: Iterable[tuple[str, str, str]], *, by: str, method: str, at: datetime
    ) -> int:
        """Bind every (account_id, channel, address) in one transaction: all or nothing."""
        count = 0
        async with self._store.write() as tx:
            for account_id, channel, address in rows:
                await _upsert(tx, account_id, channel, address, by, method, at)
                count += 1
        return count

    async def get(self, account_id: str) -> list[Binding]:
        """Every binding of one account, by channel."""
        async with self._store.read() as tx:
            rows = await tx.fetch_all(self._store.sql.bindings_of_account, (account_id,))
        return [_binding(row) for row in rows]

    async def list(
        self,
        *,
        channel: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        unbound: bool = False,
    ) -> BindingPage:
        """One page of bindings ordered by (account_id, channel), optionally of one channel.

        ``unbound``: instead, the bindings of accounts that have none on ``channel`` (who still
        needs binding there).
        """
        limit = max(1, min(limit, MAX_PAGE))
        filters: list[str] = []
        params: list[str] = []
        if channel is not None:
            filters.append(
                self._store.sql.bindings_unbound_on if unbound else self._store.sql.bindings_on
            )
            params.append(channel)
        if cursor is not None:
            # Keyset paging: stable while rows are added or removed between pages.
            filters.append(self._store.sql.bindings_after)
            params.extend(decode_cursor(cursor))
        sql = self._store.sql.bindings_page.format(filters="".join(f" {f}" for f in filters))
        async with self._store.read() as tx:
            rows = await tx.fetch_all(sql, (*params, limit + 1))
        items = tuple(_binding(row) for row in rows[:limit])
        more = len(rows) > limit
        last = items[-1] if items else None
        next_cursor = encode_cursor(last.account_id, last.channel) if more and last else None
        return BindingPage(items=items, next_cursor=next_cursor)

    async def remove(self, account_id: str, channel: str, *, by: str, at: datetime) -> bool:
        """Unbind ``account_id`` on ``channel`` (audited as ``by``); False when it was not bound."""
        async with self._store.write() as tx:
            removed = await tx.execute(self._store.sql.remove_binding, (account_id, channel))
            if removed:
                await LedgerRows(tx).audit(
                    at, by, "binding.remove", f"{account_id}/{channel}", "", ""
                )
        if removed:
            log.info("binding removed", extra=kv(account_id=account_id, channel=channel))
        return removed == 1


async def _upsert(
    tx: EngineTx,
    account_id: str,
    channel: str,
    address: str,
    by: str,
    method: str,
    at: datetime,
) -> None:
    await IdentityRows(tx).set_binding(account_id, channel, address, by, method, at)


def _binding(row: Row) -> Binding:
    return Binding(
        account_id=row["account_id"],
        channel=row["channel"],
        address=row["address"],
        bound_by=row["bound_by"],
        method=row["method"],
        bound_at=parse_ts(row["bound_at"]),
    )
