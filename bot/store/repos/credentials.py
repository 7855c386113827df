"""Sealed secrets at rest and the channel consents they go with (implements
``bot.core.storage.CredentialRepo``). Sealing and opening are ``bot.secrets``' business; this
module only stores bytes."""

from __future__ import annotations

from datetime import datetime

from bot.core.storage import ChannelAuthorization, Sealed
from bot.store.codec import ts
from bot.store.repos.bound import Rows


class CredentialRows(Rows):
    """The ``sealed_secrets`` table, the sealed bodies of kept answers, and
    ``channel_authorizations``."""

    async def get(self, name: str) -> Sealed | None:
        """The sealed value called ``name``, or None."""
        row = await self._tx.fetch_one(self.sql.get_sealed, (name,))
        return Sealed(row["key_id"], bytes(row["blob"])) if row else None

    async def put(self, name: str, sealed: Sealed, at: datetime) -> None:
        """Insert or replace the sealed value called ``name``."""
        await self._tx.execute(self.sql.put_sealed, (name, sealed.key_id, sealed.blob, ts(at)))

    async def delete(self, name: str) -> bool:
        """Delete the row (overwritten first, so the old bytes do not linger in the page)."""
        await self._tx.execute(self.sql.zero_sealed, (name,))
        return await self._tx.execute(self.sql.delete_sealed, (name,)) == 1

    async def every(self) -> list[tuple[str, Sealed]]:
        """Every sealed value with its name."""
        rows = await self._tx.fetch_all(self.sql.all_sealed)
        return [(row["name"], Sealed(row["key_id"], bytes(row["blob"]))) for row in rows]

    async def sealed_answers(self) -> list[tuple[str, Sealed]]:
        """Every kept answer whose body is sealed, by request id."""
        rows = await self._tx.fetch_all(self.sql.sealed_answers)
        return [(row["request_id"], Sealed(row["key_id"], bytes(row["body"]))) for row in rows]

    async def reseal_answer(self, request_id: str, sealed: Sealed) -> None:
        """Replace a kept answer's sealed body."""
        await self._tx.execute(self.sql.reseal_answer, (sealed.key_id, sealed.blob, request_id))

    async def record_consent(self, authorization: ChannelAuthorization) -> None:
        """Insert or replace a channel's consent decision."""
        a = authorization
        row = (a.channel, a.state, a.by, ts(a.at), a.notice_version, a.paid_urgency)
        await self._tx.execute(self.sql.upsert_authorization, row)
