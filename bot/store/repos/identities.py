"""Bindings, route preferences and binding codes as routing and ``bind CODE`` need them
(implements ``bot.core.ports.IdentityRepo``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.intake import ChannelName
from bot.core.routing import RoutePreference
from bot.store.codec import ts
from bot.store.repos.bound import Rows
from bot.store.repos.ledger import LedgerRows
from bot.store.tx import Row


class IdentityRows(Rows):
    """The ``bindings``, ``preferences`` and ``binding_codes`` tables, read for routing."""

    async def binding_address(self, account_id: str, channel: ChannelName) -> str | None:
        """The account's address on ``channel``, if bound."""
        row = await self._tx.fetch_one(self.sql.binding_address, (account_id, channel))
        return str(row["address"]) if row else None

    async def route_preference(self, account_id: str) -> RoutePreference:
        """The account's channel order and email subscription."""
        row = await self._tx.fetch_one(self.sql.route_preference, (account_id,))
        return _preference(row) if row is not None else RoutePreference()

    async def route_facts(self, account_id: str) -> tuple[RoutePreference, dict[ChannelName, str]]:
        """The account's route preference and its address on each channel it is bound on."""
        rows = await self._tx.fetch_all(self.sql.route_facts, (account_id,))
        first = rows[0]  # the statement returns a row even for an account it knows nothing of
        preference = _preference(first) if first["has_preference"] else RoutePreference()
        return preference, {row["channel"]: row["address"] for row in rows if row["channel"]}

    async def binding_owner(self, channel: ChannelName, address: str) -> str | None:
        """The account bound to ``address`` on ``channel``, if any."""
        row = await self._tx.fetch_one(self.sql.binding_owner, (channel, address))
        return str(row["account_id"]) if row else None

    async def first_bound(
        self, channels: Sequence[ChannelName], per_channel: int
    ) -> dict[ChannelName, list[tuple[str, str]]]:
        """The first ``per_channel`` (account_id, address) bound on each channel, by account."""
        found: dict[ChannelName, list[tuple[str, str]]] = {name: [] for name in channels}
        if not channels or per_channel <= 0:
            return found
        sql = self.sql.first_bound_on.format(marks=", ".join("?" * len(channels)))
        for row in await self._tx.fetch_all(sql, (*channels, per_channel)):
            found[str(row["channel"])].append((str(row["account_id"]), str(row["address"])))
        return found

    async def set_binding(
        self,
        account_id: str,
        channel: ChannelName,
        address: str,
        by: str,
        method: str,
        at: datetime,
    ) -> None:
        """Bind, audited in the same transaction."""
        await self._tx.execute(
            self.sql.upsert_binding, (account_id, channel, address, by, method, ts(at))
        )
        # The address is personal data: the audit names the account and channel, not the address.
        target = f"{account_id}/{channel}"
        await LedgerRows(self._tx).audit(at, by, "binding.set", target, method, "")

    async def put_code(
        self, code_hash: str, account_id: str, at: datetime, expires_at: datetime
    ) -> None:
        """Keep a binding code's hash (sweeping the expired ones)."""
        await self._tx.execute(self.sql.sweep_binding_codes, (ts(at),))
        await self._tx.execute(
            self.sql.insert_binding_code, (code_hash, account_id, ts(at), ts(expires_at))
        )

    async def take_code(self, code_hash: str, now: datetime) -> str | None:
        """Use a code once: the account it was issued for, or None."""
        row = await self._tx.fetch_one(self.sql.take_binding_code, (ts(now), code_hash, ts(now)))
        return str(row["account_id"]) if row else None


def _preference(row: Row) -> RoutePreference:
    order = row["channel_order"]
    return RoutePreference(
        channel_order=tuple(order.split(",")) if order else None,
        email_enabled=bool(row["email_enabled"]),
        time_zone=row["time_zone"],
    )
