"""Stored channel authorizations (``ConsentRepo``): the recorded consent of each channel.

A channel's row says who authorized (or revoked) it, when, which notice version they read, and
whether they accepted its paid (SMS and phone) urgency with it.
Its credentials are sealed secrets (``channel:<name>``, see ``bot.channel_access.credentials``);
revoking deletes that row outright, so no credential outlives its consent. A consent is written
inside the unit of work of the change it goes with (``bot.store.repos.credentials``).
"""

from __future__ import annotations

from bot.core.storage import ChannelAuthorization
from bot.store.codec import parse_ts
from bot.store.engine import EngineStore

__all__ = ["AuthorizationStore", "ChannelAuthorization"]


class AuthorizationStore:
    """Reads the consents (implements ``bot.core.storage.ConsentRepo``)."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store

    async def all(self) -> dict[str, ChannelAuthorization]:
        """Every channel's latest decision, by channel."""
        async with self._store.read() as tx:
            rows = await tx.fetch_all(tx.sql.all_authorizations)
        return {
            row["channel"]: ChannelAuthorization(
                channel=row["channel"],
                state=row["state"],
                by=row["by"],
                at=parse_ts(row["at"]),
                notice_version=row["notice_version"],
                paid_urgency=bool(row["paid_urgency"]),
            )
            for row in rows
        }
