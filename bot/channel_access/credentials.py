"""A channel's credentials at rest: sealed under the master key into the ``channel:<name>``
secret, inside the unit of work that records the consent they go with."""

from __future__ import annotations

import json
from datetime import datetime

from bot.core.ports import Store, UnitOfWork
from bot.secrets import SecretBox


def credential_name(channel: str) -> str:
    """The sealed secret holding a channel's credentials."""
    return f"channel:{channel}"


class ChannelCredentials:
    """Seals, opens and deletes channels' credentials through a unit's credential repository."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def put(
        self, uow: UnitOfWork, channel: str, values: dict[str, str], at: datetime
    ) -> None:
        """Seal and store a channel's credentials."""
        name = credential_name(channel)
        plain = json.dumps(values, sort_keys=True).encode()
        await uow.credentials.put(name, self._box.seal(name, plain), at)

    async def delete(self, uow: UnitOfWork, channel: str) -> bool:
        """Delete a channel's credentials; False when none were stored."""
        return await uow.credentials.delete(credential_name(channel))

    async def get(self, channel: str) -> dict[str, str] | None:
        """A channel's credentials, opened; None when none are stored (StoreError when they
        do not open)."""
        name = credential_name(channel)
        async with self._store.snapshot() as uow:
            sealed = await uow.credentials.get(name)
        if sealed is None:
            return None
        values: dict[str, str] = json.loads(self._box.open(name, sealed))
        return values
