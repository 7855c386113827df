"""A chat send that fails for good falls back to the next usable channel, each hop traced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.runtime import Gateway
from bot.channels.memory import MemoryChannel
from bot.settings.config import ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace


@pytest.fixture
async def two_channels(tmp_path: Path) -> AsyncIterator[tuple[Gateway, SandboxBackend]]:
    settings = fast_settings(tmp_path)  # channels are tried in the order given below
    backend = SandboxBackend(secret=ensure_backend_secret(settings))
    await backend.start()
    channels = {"primary": MemoryChannel("primary"), "backup": MemoryChannel("backup")}
    gateway = Gateway(settings=settings, channels=channels, backend_url=backend.url)
    await gateway.start()
    backend.gateway_url = gateway.url
    yield gateway, backend
    await gateway.stop()
    await backend.stop()


def _memory(gateway: Gateway, name: str) -> MemoryChannel:
    channel = gateway.channels[name]
    assert isinstance(channel, MemoryChannel)
    return channel


async def test_permanent_failure_falls_back_to_the_next_channel(
    two_channels: tuple[Gateway, SandboxBackend],
) -> None:
    gateway, backend = two_channels
    _memory(gateway, "primary").refused.add("a1")
    await backend.submit(sample_ticket("T-FB", [approver("a1", "Ann")]))

    async def rerouted() -> list[dict[str, object]] | None:
        deliveries = (await trace(backend, "T-FB"))["deliveries"]
        return deliveries if any(d["state"] == "sent" for d in deliveries) else None

    deliveries = await eventually(rerouted)
    by_channel = {d["channel"]: d for d in deliveries}
    assert by_channel["primary"]["state"] == "failed"
    assert "availability scope" in by_channel["primary"]["reason"]
    hops = [h["detail"] for h in by_channel["primary"]["history"]]
    assert any("falling back to backup" in hop for hop in hops), hops
    assert by_channel["backup"]["state"] == "sent"
    assert [c.address for c in _memory(gateway, "backup").cards.values()] == ["a1"]


async def test_when_every_channel_fails_the_approver_is_unreachable(
    two_channels: tuple[Gateway, SandboxBackend],
) -> None:
    gateway, backend = two_channels
    for name in ("primary", "backup"):
        _memory(gateway, name).refused.add("a1")
    await backend.submit(sample_ticket("T-NONE", [approver("a1", "Ann")]))

    async def settled() -> list[dict[str, object]] | None:
        deliveries = (await trace(backend, "T-NONE"))["deliveries"]
        return deliveries if any(d["state"] == "unreachable" for d in deliveries) else None

    deliveries = await eventually(settled)
    assert [d["state"] for d in deliveries] == ["failed", "failed", "unreachable"]
    assert [d["channel"] for d in deliveries][:2] == ["primary", "backup"]
