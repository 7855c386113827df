"""The processes of a run seen as one: N gateway replicas and the platforms they share.

Every gateway replica holds its own stream connections to the one sandbox Lark app and the one
DingTalk app of the platforms process (``bench.platforms``), and forwards decisions to its one
backend: cards, clicks, decisions and the platforms' logs are all read there, and each app's
rate limit counts every replica's calls together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from bench.load import Host


class Fleet:
    """The gateway hosts (``hosts[0]`` also serves the single-host phases) and the platforms."""

    def __init__(self, hosts: Sequence[Host], platforms: Host, admin_token: str) -> None:
        self.hosts = list(hosts)
        self.platforms = platforms
        self._token = admin_token

    async def seat(self, channel: str, accounts: Sequence[str]) -> None:
        """Add the accounts as users of the platform and bind them (admin API, shared store)."""
        addresses = await self.platforms.seat(channel, accounts)
        headers = {"authorization": f"Bearer {self._token}"}
        host = self.hosts[0]
        for account, address in addresses.items():
            body = {"channel": channel, "address": address}
            url = f"{host.url}/v1/bindings/{account}"
            async with host.session.put(url, json=body, headers=headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"binding {account} on {channel}: {await r.text()}")

    async def limits(
        self,
        app_qps: int | None,
        user_qps: int | None,
        dingtalk_qps: int | None,
        app_per_minute: int | None = None,
    ) -> None:
        """Set the shared sandbox apps' enforced limits."""
        await self.platforms.limits(app_qps, user_qps, dingtalk_qps, app_per_minute)

    async def refresh(self) -> None:
        """Fetch new stamps from the platforms."""
        await self.platforms.refresh()

    def card(self, delivery_id: str) -> tuple[Host, str, float] | None:
        """Who presses the card for ``delivery_id`` (the platforms), its address, its creation."""
        found = self.platforms.cards.get(delivery_id)
        return (self.platforms, found[0], found[1]) if found is not None else None

    def card_count(self, delivery_id: str) -> int:
        """How many cards were created for ``delivery_id``."""
        return self.platforms.card_count.get(delivery_id, 0)

    def decisions(self, ticket_id: str) -> list[tuple[str, float]]:
        """Every decision the backend received for ``ticket_id``."""
        return self.platforms.decisions.get(ticket_id, [])

    def attempts(self) -> list[tuple[str, int]]:
        """Every webhook attempt at the backend."""
        return self.platforms.attempts

    def lark_log(self, since: float) -> list[list[Any]]:
        """Lark OpenAPI calls answered at or after ``since``, from every replica."""
        return [r for r in self.platforms.lark_log if r[4] >= since]

    async def wait_for(self, done: Callable[[], bool], within: float, every: float = 0.1) -> bool:
        """Refresh until ``done()`` or ``within`` seconds; whether it got done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            await self.refresh()
            if done():
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(every)
