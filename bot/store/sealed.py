"""Sealed secrets at rest (``SealedSecretRepo``): named blobs with the id of the key that sealed
them, and the sealed bodies of kept answers. Sealing and opening are ``bot.secrets``' business;
this module only stores bytes."""

from __future__ import annotations

from datetime import datetime

from bot.core.ports import Tx
from bot.core.storage import Sealed
from bot.store.codec import ts
from bot.store.tx import raw


class SealedSecretStore:
    """The ``sealed_secrets`` table and sealed answers (implements ``SealedSecretRepo``)."""

    async def get(self, tx: Tx, name: str) -> Sealed | None:
        """The sealed value called ``name``, or None."""
        row = await raw(tx).fetch_one(raw(tx).sql.get_sealed, (name,))
        return Sealed(row["key_id"], bytes(row["blob"])) if row else None

    async def put(self, tx: Tx, name: str, sealed: Sealed, at: datetime) -> None:
        """Insert or replace the sealed value called ``name``."""
        await raw(tx).execute(raw(tx).sql.put_sealed, (name, sealed.key_id, sealed.blob, ts(at)))

    async def delete(self, tx: Tx, name: str) -> bool:
        """Delete the row (overwritten first, so the old bytes do not linger in the page)."""
        await raw(tx).execute(raw(tx).sql.zero_sealed, (name,))
        return await raw(tx).execute(raw(tx).sql.delete_sealed, (name,)) == 1

    async def every(self, tx: Tx) -> list[tuple[str, Sealed]]:
        """Every sealed value with its name."""
        rows = await raw(tx).fetch_all(raw(tx).sql.all_sealed)
        return [(row["name"], Sealed(row["key_id"], bytes(row["blob"]))) for row in rows]

    async def sealed_answers(self, tx: Tx) -> list[tuple[str, Sealed]]:
        """Every kept answer whose body is sealed, by request id."""
        rows = await raw(tx).fetch_all(raw(tx).sql.sealed_answers)
        return [(row["request_id"], Sealed(row["key_id"], bytes(row["body"]))) for row in rows]

    async def reseal_answer(self, tx: Tx, request_id: str, sealed: Sealed) -> None:
        """Replace a kept answer's sealed body."""
        await raw(tx).execute(raw(tx).sql.reseal_answer, (sealed.key_id, sealed.blob, request_id))
