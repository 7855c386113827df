"""A gateway process for the restart test: submits, decides, then waits to be killed.

Run as ``python -m tests.gateway.crashing_gateway DATA_DIR BACKEND_URL SECRET``. It starts the
embedded gateway on DATA_DIR (decisions go to BACKEND_URL, which is failing), submits a ticket and
approves it, prints ``DECIDED`` and then keeps retrying until the test SIGKILLs it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings


async def main(data_dir: Path, backend_url: str, secret: str) -> None:
    settings = fast_settings(data_dir, backend_url=backend_url, backend_secret=secret)
    embedded = await start(settings)
    client = SandboxBackend(secret=secret, gateway_url=embedded.gateway.url)
    status, receipt = await client.submit(sample_ticket("T-CRASH", [approver("a1", "Ann")]))
    assert status == 202, receipt
    delivery = receipt["deliveries"][0]["delivery_id"]
    memory = embedded.memory
    assert memory is not None
    await asyncio.wait_for(memory.wait_for(delivery), 10)
    click = await memory.click("a1", delivery, ClickAction.APPROVE, "before the crash")
    print("DECIDED", click.result.status.value, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
