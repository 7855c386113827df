"""Two gateways on one database (SQLite file or PostgreSQL): an admin's revocation or
authorization through one of them takes effect on the other while it runs, without a restart;
after a revocation through either, neither sends on the channel."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app.runtime import Gateway
from bot.channels.memory import MemoryChannel
from bot.secrets import encode_key, new_key
from sandbox.backend import SandboxBackend
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import authorize, call, token
from tests.gateway.helpers import eventually, states
from tests.store.engines import postgres_schema


@dataclass
class Pair:
    """Replicas A and B, each with its own memory channel, and the backend calling them."""

    a: Gateway
    b: Gateway
    backend: SandboxBackend
    admin: str


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The settings that put both gateways on one database."""
    if request.param == "sqlite":
        yield {"data_dir": tmp_path / "shared"}  # one gateway.db for both
        return
    with postgres_schema() as url:
        yield {"database_url": url}


@pytest.fixture
async def pair(database: dict[str, Any], tmp_path: Path) -> AsyncIterator[Pair]:
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    backend = SandboxBackend(secret=secret)
    await backend.start()
    shared = {"master_key": encode_key(new_key()), "backend_secret": secret, **database}
    async with AsyncExitStack() as stack:
        gateways = []
        for name in ("a", "b"):
            values = {"data_dir": tmp_path / name, **shared}
            gateway = Gateway(fast_settings(**values), {"memory": MemoryChannel()}, backend.url)
            gateways.append(await stack.enter_async_context(gateway))
        stack.push_async_callback(backend.stop)
        a, b = gateways
        yield Pair(a, b, backend, await token(a, "admin"))


def _memory(gateway: Gateway) -> MemoryChannel:
    channel = gateway.channels["memory"]
    assert isinstance(channel, MemoryChannel)
    return channel


async def _state(gateway: Gateway, bearer: str) -> tuple[str, bool]:
    status, listed = await call(gateway, "GET", "/v1/channels", bearer)
    assert status == 200, listed
    memory = next(c for c in listed if c["channel"] == "memory")
    return memory["state"], memory["running"]


async def _submit(pair: Pair, through: Gateway, ticket_id: str) -> list[str]:
    pair.backend.gateway_url = through.url
    status, receipt = await pair.backend.submit(sample_ticket(ticket_id, [approver("a1", "Ann")]))
    assert status == 202, receipt
    return await states(pair.backend, ticket_id)


async def test_a_revocation_through_one_replica_stops_sending_on_the_other(pair: Pair) -> None:
    status, body = await call(pair.a, "DELETE", "/v1/channels/memory/authorization", pair.admin)
    assert status == 200, body

    async def b_revoked() -> bool:
        return await _state(pair.b, pair.admin) == ("revoked", False)

    await eventually(b_revoked)
    # B routes nothing to the channel A revoked: the card is not queued there, nor sent.
    assert await _submit(pair, pair.b, "T-REVOKED") != ["queued"]
    assert not pair.b.access.authorized("memory")
    assert _memory(pair.a).cards == {} and _memory(pair.b).cards == {}


async def test_an_authorization_through_one_replica_starts_the_channel_on_the_other(
    pair: Pair,
) -> None:
    status, body = await call(pair.b, "DELETE", "/v1/channels/memory/authorization", pair.admin)
    assert status == 200, body

    async def a_revoked() -> bool:
        return await _state(pair.a, pair.admin) == ("revoked", False)

    await eventually(a_revoked)
    status, body = await authorize(pair.b, pair.admin, "memory")
    assert status == 200, body

    async def a_authorized() -> bool:
        return await _state(pair.a, pair.admin) == ("authorized", True)

    await eventually(a_authorized)
    assert await _submit(pair, pair.a, "T-BACK") in (["queued"], ["sent"])

    async def sent() -> bool:
        return await states(pair.backend, "T-BACK") == ["sent"]

    await eventually(sent)
    held = len(_memory(pair.a).cards) + len(_memory(pair.b).cards)
    assert held == 1
