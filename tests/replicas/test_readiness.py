"""``/readyz`` speaks for one replica: its lease owner id and the streams up in this process."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import aiohttp

from bot.core.models import ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts


async def test_readyz_names_the_replica_by_its_lease_owner_and_lists_its_connections(
    stack: object,
) -> None:
    embedded, backend, memory = parts(stack)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{embedded.gateway.url}/readyz") as response,
    ):
        assert response.status == 200
        body = await response.json()
    replica = body["replica"]
    assert replica["pid"] == os.getpid()
    assert replica["connections"] == {"memory": True}
    # The id is the one this process claims outbox jobs under: a lease found in the shared
    # database names the replica that holds it.
    backend.faults.hang_seconds = 2  # the forward stays claimed while we look
    status, receipt = await backend.submit(sample_ticket("T-READY", [approver("a1", "Ann")]))
    assert status == 202
    card = await memory.wait_for(receipt["deliveries"][0]["delivery_id"])
    await memory.click(card.address, card.delivery_id, ClickAction.APPROVE)
    db = embedded.gateway.settings.db_path

    async def leased_owners() -> set[str]:
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute("SELECT lease_owner FROM outbox WHERE lease_owner IS NOT NULL")
            return {str(r[0]) for r in rows}

    assert await eventually(leased_owners) == {replica["id"]}
