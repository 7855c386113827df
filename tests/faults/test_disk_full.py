"""The disk under the data directory fills up, then space comes back.

The data directory sits on a small tmpfs of its own; a filler file takes every free byte. While
the disk is full a submission is refused with 503 (a backend retries those) and the gateway says
it is not ready; once the filler is gone the same submission is accepted and flows end to end.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.faults.disk import fill
from tests.gateway.helpers import eventually, parts

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]


async def _ready(embedded: Embedded) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(embedded.gateway.url + "/readyz") as response,
    ):
        return response.status


async def test_a_full_disk_refuses_intake_with_503_and_recovers(small_disk: Path) -> None:
    embedded = await start(fast_settings(small_disk / "data"))
    _, backend, memory = parts(embedded)
    try:
        filler = fill(small_disk)
        ticket = sample_ticket("T-DISK", [approver("ann", "Ann")])
        status, body = await backend.submit(ticket, request_id="msg_T-DISK")
        assert status == 503, body
        assert body["error"]["code"], body
        os.unlink(filler)
        # The backend retries the same request: accepted now, and it flows end to end.
        status, receipt = await backend.submit(ticket, request_id="msg_T-DISK")
        assert status == 202, receipt
        delivery = receipt["deliveries"][0]["delivery_id"]
        await asyncio.wait_for(memory.wait_for(delivery), 10)
        await memory.click("ann", delivery, ClickAction.APPROVE)
        await backend.wait_for_decision("T-DISK")
        assert await _ready(embedded) == 200
    finally:
        await embedded.stop()


async def test_a_full_disk_makes_the_gateway_not_ready_until_space_is_back(
    small_disk: Path,
) -> None:
    embedded = await start(fast_settings(small_disk / "data"))
    try:
        assert await _ready(embedded) == 200
        filler = fill(small_disk)

        async def not_ready() -> bool:
            return await _ready(embedded) == 503

        await eventually(not_ready, within=15)  # a success is cached for a couple of seconds
        os.unlink(filler)

        async def ready_again() -> bool:
            return await _ready(embedded) == 200

        await eventually(ready_again, within=15)  # the probe's answer is cached a few seconds
    finally:
        await embedded.stop()
