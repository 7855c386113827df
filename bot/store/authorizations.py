"""Stored channel authorizations (``ConsentRepo``): the recorded consent of each channel.

A channel's row says who authorized (or revoked) it, when, and which notice version they read.
Its credentials are sealed secrets (``channel:<name>``, see ``bot.channel_access.credentials``);
revoking deletes that row outright, so no credential outlives its consent.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.ports import Store, Tx
from bot.core.storage import ChannelAuthorization
from bot.store.codec import parse_ts, ts
from bot.store.tx import raw

__all__ = ["AuthorizationStore", "ChannelAuthorization"]


class AuthorizationStore:
    """Reads and writes consents (implements ``bot.core.storage.ConsentRepo``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def all(self) -> dict[str, ChannelAuthorization]:
        """Every channel's latest decision, by channel."""
        async with self._store.read() as tx:
            rows = await raw(tx).fetch_all(raw(tx).sql.all_authorizations)
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

    async def record(self, tx: Tx, authorization: ChannelAuthorization) -> None:
        """Insert or replace a channel's decision, inside the caller's transaction."""
        a = authorization
        await raw(tx).execute(
            raw(tx).sql.upsert_authorization,
            (a.channel, a.state, a.by, ts(a.at), a.notice_version),
        )

    async def queued_deliveries(self, tx: Tx, channel: str, state: str) -> list[str]:
        """Ids of the channel's deliveries in ``state``."""
        rows = await raw(tx).fetch_all(raw(tx).sql.queued_deliveries_of_channel, (channel, state))
        return [str(row["id"]) for row in rows]

    async def wake_jobs(self, tx: Tx, channel: str, kinds: tuple[str, str], now: datetime) -> None:
        """Make the channel's waiting jobs of ``kinds`` due now."""
        await raw(tx).execute(raw(tx).sql.wake_channel_jobs, (ts(now), *kinds, ts(now), channel))
