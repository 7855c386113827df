"""The gateway processes of a run seen as one: cards, decisions and logs merged across hosts.

With ``--replicas N`` every host runs its own sandbox platforms and backend on one shared
database, so a card may be created on any host's sandbox Lark and a decision may reach any
host's backend; the driver seats every user on every host and reads the stamps of all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from bench.load import Host


class Fleet:
    """Every host of the run; ``hosts[0]`` also serves the single-host phases."""

    def __init__(self, hosts: Sequence[Host]) -> None:
        self.hosts = list(hosts)

    async def seat(self, channel: str, accounts: Sequence[str]) -> None:
        """Seat accounts on every host (the binding is shared, the sandbox users are not)."""
        for host in self.hosts:
            await host.seat(channel, accounts)

    async def limits(
        self, app_qps: int | None, user_qps: int | None, dingtalk_qps: int | None
    ) -> None:
        """Set the sandbox platforms' limits on every host."""
        for host in self.hosts:
            await host.limits(app_qps, user_qps, dingtalk_qps)

    async def refresh(self) -> None:
        """Fetch new stamps from every host."""
        await asyncio.gather(*(h.refresh() for h in self.hosts))

    def card(self, delivery_id: str) -> tuple[Host, str, float] | None:
        """The host holding the card for ``delivery_id``, its address and creation time."""
        for host in self.hosts:
            found = host.cards.get(delivery_id)
            if found is not None:
                return host, found[0], found[1]
        return None

    def card_count(self, delivery_id: str) -> int:
        """How many cards were created for ``delivery_id`` over all hosts."""
        return sum(h.card_count.get(delivery_id, 0) for h in self.hosts)

    def decisions(self, ticket_id: str) -> list[tuple[str, float]]:
        """Every decision received for ``ticket_id`` over all backends."""
        return [d for h in self.hosts for d in h.decisions.get(ticket_id, [])]

    def attempts(self) -> list[tuple[str, int]]:
        """Every webhook attempt over all backends."""
        return [a for h in self.hosts for a in h.attempts]

    def lark_log(self, since: float) -> list[list[Any]]:
        """Lark OpenAPI calls answered at or after ``since`` on every host."""
        return [r for h in self.hosts for r in h.lark_log if r[4] >= since]

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
