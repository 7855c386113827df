"""Every PostgreSQL session of a running gateway (its pool and its LISTEN connection) ended by
``pg_terminate_backend``, the database refusing new ones for a while, as in a failover.

While the database is out of reach the gateway says it is not ready and why (its LISTEN
connection among the checks), and every request that needs the store is answered 503
``store_unavailable``, never 500. Once it is back the gateway listens again by itself: work
another replica takes in reaches it by NOTIFY, though its own poll is a minute away.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Gateway
from bot.secrets import encode_key, new_key
from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import FAST_OUTBOX, fast_settings
from tests.faults.postgres_down import database_down
from tests.gateway.helpers import eventually, parts, states
from tests.store.engines import postgres_database

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(120)]
LISTENER = "store_listener"


@pytest.fixture
def db_url() -> Iterator[str]:
    with postgres_database("gw_loss") as url:
        yield url


async def readyz(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as response:
        return response.status, await response.json()


async def test_a_gateway_cut_from_postgresql_says_so_answers_503_and_listens_again(
    tmp_path: Path, db_url: str
) -> None:
    idle = FAST_OUTBOX.model_copy(update={"poll_seconds": 60.0})  # only a NOTIFY is prompt
    shared = {
        "database_url": db_url,
        "outbox": idle,
        "master_key": encode_key(new_key()),
        "backend_secret": "whsec_" + base64.b64encode(b"p" * 32).decode(),
    }
    intake = await start(fast_settings(tmp_path / "a", **shared))
    try:
        _, backend, memory = parts(intake)
        intake.gateway.worker.stop()  # the runner below sends every card
        runner_settings = fast_settings(tmp_path / "b", **shared)
        async with Gateway(runner_settings, {"memory": memory}, backend.url) as runner:
            status, body = await readyz(runner.url)
            assert status == 200 and body["checks"][LISTENER] == "listening", body

            async with database_down(db_url):
                body = await _not_ready(runner.url)
                assert body["checks"][LISTENER].startswith("the LISTEN connection was lost")
                for n in range(3):
                    ticket = sample_ticket(f"T-LOSS-{n}", [approver("a1", "Ann")])
                    status, answer = await backend.submit(ticket)
                    assert status == 503, answer
                    assert answer["error"]["code"] == "store_unavailable", answer

            body = await _ready(runner.url)
            assert body["checks"][LISTENER] == "listening"
            await _ready(intake.gateway.url)
            status, receipt = await backend.submit(sample_ticket("T-BACK", [approver("a1", "A")]))
            assert status == 202, receipt

            async def sent() -> bool:
                return await states(backend, "T-BACK") == ["sent"]

            await eventually(sent, within=20)  # well inside the runner's 60 s poll: a NOTIFY
    finally:
        await intake.stop()


async def test_requests_in_flight_as_the_sessions_end_get_202_or_503_never_500(
    tmp_path: Path, db_url: str
) -> None:
    intake = await start(fast_settings(tmp_path / "a", database_url=db_url))
    try:
        _, backend, _ = parts(intake)
        tickets = [sample_ticket(f"T-CUT-{n}", [approver("a1", "Ann")]) for n in range(24)]
        burst = [asyncio.create_task(backend.submit(t)) for t in tickets]
        async with database_down(db_url):
            answers = await asyncio.gather(*burst)
            late = await backend.submit(sample_ticket("T-CUT-late", [approver("a1", "Ann")]))
        refused = [body for status, body in answers if status != 202] + [late[1]]
        assert all(body["error"]["code"] == "store_unavailable" for body in refused), refused
        assert {status for status, _ in answers} <= {202, 503}, answers
        assert late[0] == 503, late
    finally:
        await intake.stop()


async def _not_ready(url: str) -> dict[str, Any]:
    async def refused() -> dict[str, Any] | None:
        status, body = await readyz(url)
        return body if status == 503 and body["checks"].get(LISTENER) != "listening" else None

    found: dict[str, Any] = await eventually(refused, within=30)
    return found


async def _ready(url: str) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        status, body = await readyz(url)
        return body if status == 200 else None

    found: dict[str, Any] = await eventually(ready, within=30)
    return found
