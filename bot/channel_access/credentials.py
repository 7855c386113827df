"""A channel's credentials at rest: sealed under the master key into the ``channel:<name>``
secret, inside the transaction that records the consent they go with."""

from __future__ import annotations

import json
from datetime import datetime

from bot.core.ports import Store, Tx
from bot.core.storage import SealedSecretRepo
from bot.secrets import SecretBox


def credential_name(channel: str) -> str:
    """The sealed secret holding a channel's credentials."""
    return f"channel:{channel}"


class ChannelCredentials:
    """Seals, opens and deletes channels' credentials through the sealed-secret port."""

    def __init__(self, store: Store, secrets: SealedSecretRepo, box: SecretBox) -> None:
        self._store = store
        self._secrets = secrets
        self._box = box

    async def put(self, tx: Tx, channel: str, values: dict[str, str], at: datetime) -> None:
        """Seal and store a channel's credentials."""
        name = credential_name(channel)
        plain = json.dumps(values, sort_keys=True).encode()
        await self._secrets.put(tx, name, self._box.seal(name, plain), at)

    async def delete(self, tx: Tx, channel: str) -> bool:
        """Delete a channel's credentials; False when none were stored."""
        return await self._secrets.delete(tx, credential_name(channel))

    async def get(self, channel: str) -> dict[str, str] | None:
        """A channel's credentials, opened; None when none are stored (StoreError when they
        do not open)."""
        name = credential_name(channel)
        async with self._store.read() as tx:
            sealed = await self._secrets.get(tx, name)
        if sealed is None:
            return None
        values: dict[str, str] = json.loads(self._box.open(name, sealed))
        return values
