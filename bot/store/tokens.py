"""API tokens for admins and support staff, stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from bot.core.storage import ApiToken
from bot.errors import NotFound
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.engine import EngineStore
from bot.store.repos.ledger import LedgerRows
from bot.store.tx import Row

__all__ = ["ApiToken", "TokenStore", "token_hash"]


def token_hash(token: str) -> str:
    """What is stored and compared: tokens are high-entropy, so a plain hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Creates, lists, revokes and resolves API tokens."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store

    async def create(
        self, token: str, role: str, label: str, now: datetime, *, by: str = "cli"
    ) -> ApiToken:
        """Record a new token under ``role`` (audited as created by ``by``)."""
        record = ApiToken(id=uuid.uuid4().hex[:12], role=role, label=label, created_at=now)
        async with self._store.write() as tx:
            await tx.execute(
                self._store.sql.insert_token,
                (record.id, role, token_hash(token), label, ts(now)),
            )
            await LedgerRows(tx).audit(now, by, "token.create", record.id, role, "")
        return record

    async def resolve(self, token: str) -> ApiToken | None:
        """The live token record for ``token``, or None."""
        async with self._store.read() as tx:
            row = await tx.fetch_one(
                self._store.sql.resolve_token,
                (token_hash(token),),
            )
        return _token(row) if row else None

    async def list(self) -> list[ApiToken]:
        """Every token record, newest first."""
        async with self._store.read() as tx:
            rows = await tx.fetch_all(self._store.sql.list_tokens)
        return [_token(row) for row in rows]

    async def revoke(self, token_id: str, now: datetime, *, by: str = "cli") -> None:
        """Revoke a token by its id; it stops working at once."""
        async with self._store.write() as tx:
            changed = await tx.execute(
                self._store.sql.revoke_token,
                (ts(now), token_id),
            )
            if changed != 1:
                raise NotFound(f"no live token {token_id}")
            await LedgerRows(tx).audit(now, by, "token.revoke", token_id, "", "")


def _token(row: Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        role=row["role"],
        label=row["label"],
        created_at=parse_ts(row["created_at"]),
        revoked_at=opt_ts(row["revoked_at"]),
    )
