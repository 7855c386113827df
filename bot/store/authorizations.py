"""Stored channel authorizations: the recorded consent, and the sealed credentials beside it.

A channel's row says who authorized (or revoked) it, when, and which notice version they read.
Its credentials live in ``sealed_secrets`` under ``channel:<name>``; revoking deletes that row
outright, so no credential outlives its consent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from bot.core.models import Entity
from bot.secrets import SecretBox, delete_sealed, get_sealed, put_sealed
from bot.store.codec import parse_ts, ts
from bot.store.queries import SQL
from bot.store.sqlite import SqliteStore
from bot.store.tx import SqliteTx

State = Literal["authorized", "revoked"]


class ChannelAuthorization(Entity):
    """The latest consent decision on one channel."""

    channel: str
    state: State
    by: str
    at: datetime
    notice_version: str


def credential_name(channel: str) -> str:
    """The ``sealed_secrets`` row holding a channel's credentials."""
    return f"channel:{channel}"


class AuthorizationStore:
    """Reads and writes consents and the sealed credentials that go with them."""

    def __init__(self, store: SqliteStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def all(self) -> dict[str, ChannelAuthorization]:
        """Every channel's latest decision, by channel."""
        async with self._store.read() as tx:
            rows = await tx.fetch_all(SQL.all_authorizations)
        return {
            row["channel"]: ChannelAuthorization(
                channel=row["channel"],
                state=row["state"],
                by=row["by"],
                at=parse_ts(row["at"]),
                notice_version=row["notice_version"],
            )
            for row in rows
        }

    async def record(self, tx: SqliteTx, authorization: ChannelAuthorization) -> None:
        """Insert or replace a channel's decision, inside the caller's transaction."""
        a = authorization
        await tx.execute(
            SQL.upsert_authorization,
            (a.channel, a.state, a.by, ts(a.at), a.notice_version),
        )

    async def put_credentials(
        self, tx: SqliteTx, channel: str, values: dict[str, str], at: datetime
    ) -> None:
        """Seal and store a channel's credentials."""
        name = credential_name(channel)
        plain = json.dumps(values, sort_keys=True).encode()
        await put_sealed(tx, name, self._box.seal(name, plain), at)

    async def delete_credentials(self, tx: SqliteTx, channel: str) -> bool:
        """Delete a channel's credentials; False when none were stored."""
        return await delete_sealed(tx, credential_name(channel))

    async def credentials(self, channel: str) -> dict[str, str] | None:
        """A channel's credentials, opened; None when none are stored."""
        name = credential_name(channel)
        async with self._store.read() as tx:
            sealed = await get_sealed(tx, name)
        if sealed is None:
            return None
        values: dict[str, str] = json.loads(self._box.open(name, sealed))
        return values
