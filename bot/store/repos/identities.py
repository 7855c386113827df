"""Bindings, route preferences and binding codes as routing and ``bind CODE`` need them
(implements ``bot.core.ports.IdentityRepo``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core.intake import ChannelName
from bot.core.ports import RouteFacts, Routes
from bot.core.routing import RoutePreference
from bot.store.codec import ts
from bot.store.repos.bound import Rows
from bot.store.repos.delegations import delegation
from bot.store.repos.ledger import LedgerRows
from bot.store.repos.rows import from_json
from bot.store.tx import Row


class IdentityRows(Rows):
    """The ``bindings``, ``preferences`` and ``binding_codes`` tables, read for routing."""

    async def binding_address(self, account_id: str, channel: ChannelName) -> str | None:
        """The account's address on ``channel``, if bound (as the unit read it ahead, when it
        did: ``EngineTx.read_ahead``)."""
        known = self._tx.read_ahead
        if (account_id, channel) in known:
            return known[account_id, channel]
        row = await self._tx.fetch_one(self.sql.binding_address, (account_id, channel))
        return str(row["address"]) if row else None

    async def route_preference(self, account_id: str) -> RoutePreference:
        """The account's channel order and email subscription."""
        row = await self._tx.fetch_one(self.sql.route_preference, (account_id,))
        return _preference(row) if row is not None else _NO_PREFERENCE

    async def route_facts(self, account_id: str) -> RouteFacts:
        """The account's route preference and its address on each channel it is bound on."""
        # The statement returns a row even for an account it knows nothing of.
        return _facts(await self._tx.fetch_all(self.sql.route_facts, (account_id,)))

    async def routes(self, account_ids: Sequence[str], at: datetime) -> Routes:
        """The delegations not ended at ``at`` and the route facts of ``account_ids`` and of
        whoever they delegate to, in one statement."""
        params = {"at": ts(at), "accounts": json.dumps(list(account_ids))}
        row = await self._tx.fetch_one(self.sql.routes_at, params)
        assert row is not None  # a statement of subqueries: always one row
        found = sorted(
            (delegation(d) for d in from_json(row["delegations"])),
            key=lambda d: (d.account_id, d.starts_at),
        )
        rows: dict[str, list[Row]] = {}
        for fact in from_json(row["facts"]):
            rows.setdefault(fact["account_id"], []).append(fact)
        return Routes(tuple(found), {account: _facts(each) for account, each in rows.items()})

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


# What an account that set no preference has (frozen: one value serves every such account).
_NO_PREFERENCE = RoutePreference()


def _facts(rows: Sequence[Row]) -> RouteFacts:
    # route_facts' rows of one account: its preference on each (NULL when it set none), and
    # one row per binding (channel NULL when it has none).
    first = rows[0]
    preference = _preference(first) if first["has_preference"] else _NO_PREFERENCE
    return preference, {row["channel"]: row["address"] for row in rows if row["channel"]}


def _preference(row: Row) -> RoutePreference:
    order = row["channel_order"]
    return RoutePreference(
        channel_order=tuple(order.split(",")) if order else None,
        email_enabled=bool(row["email_enabled"]),
        time_zone=row["time_zone"],
    )
