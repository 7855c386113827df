"""Channel consent: nothing is sent on an unauthorized channel; revoke stops, deletes, reroutes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.runtime import Gateway
from bot.channels.memory import MemoryChannel
from bot.core.ports import OutgoingCard, SendReceipt
from bot.errors import ChannelError
from bot.settings.config import ensure_backend_secret
from bot.store.tokens import TokenStore
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import APP_SECRET, LarkPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import authorize as _authorize
from tests.gateway.admin import call as _call
from tests.gateway.admin import token as _token
from tests.gateway.helpers import eventually, trace


@pytest.fixture
async def lark_stack(tmp_path: Path) -> AsyncIterator[Embedded]:
    embedded = await start(fast_settings(tmp_path / "d", sandbox_platforms=["memory", "lark"]))
    try:
        yield embedded
    finally:
        await embedded.stop()


def _states(gateway: Gateway) -> dict[str, str]:
    return {s.channel: s.state for s in gateway.access.statuses()}


async def test_sandbox_channels_carry_a_system_consent(lark_stack: Embedded) -> None:
    gateway = lark_stack.gateway
    support = await _token(gateway, "support")
    status, listed = await _call(gateway, "GET", "/v1/channels", support)
    assert status == 200
    lark = next(c for c in listed if c["channel"] == "lark")
    assert (lark["state"], lark["authorized_by"], lark["notice_current"]) == (
        "authorized",
        "system",
        True,
    )
    assert lark["running"] and lark["health"] is not None
    assert "secret" not in str(listed).lower()


async def test_every_write_refuses_missing_wrong_revoked_and_support_tokens(
    lark_stack: Embedded,
) -> None:
    gateway = lark_stack.gateway
    support = await _token(gateway, "support")
    revoked = await _token(gateway, "admin")
    record = (await TokenStore(gateway.store).list())[0]
    await TokenStore(gateway.store).revoke(record.id, gateway.clock.now())
    for method in ("POST", "DELETE"):
        path = "/v1/channels/lark/authorization"
        body = {"accept_notice": True, "notice_version": "x"} if method == "POST" else None
        assert (await _call(gateway, method, path, support, body))[0] == 403
        for bad in (None, "agw_wrong", revoked):
            assert (await _call(gateway, method, path, bad, body))[0] == 401
    assert (await _call(gateway, "GET", "/v1/channels", None))[0] == 401
    assert _states(gateway)["lark"] == "authorized"


async def test_consent_must_be_given_on_the_current_notice(lark_stack: Embedded) -> None:
    gateway = lark_stack.gateway
    admin = await _token(gateway, "admin")
    assert (await _call(gateway, "DELETE", "/v1/channels/lark/authorization", admin))[0] == 200
    path = "/v1/channels/lark/authorization"
    _, notice = await _call(gateway, "GET", path, admin)
    assert "per_message" in str(notice["billing"]) and notice["version"]
    creds = {"app_id": "cli_sandbox_gateway", "app_secret": APP_SECRET}
    for body in (
        {"notice_version": notice["version"], "credentials": creds},
        {"accept_notice": True, "notice_version": "stale", "credentials": creds},
    ):
        status, answer = await _call(gateway, "POST", path, admin, body)
        assert status == 400 and answer["error"]["code"] == "consent_required", answer
    assert _states(gateway)["lark"] == "revoked"
    with sqlite3.connect(gateway.settings.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sealed_secrets WHERE name LIKE 'channel:%'")
        assert not conn.execute(
            "SELECT 1 FROM sealed_secrets WHERE name = 'channel:lark'"
        ).fetchall()


async def test_wrong_credentials_are_refused_and_nothing_is_stored(lark_stack: Embedded) -> None:
    gateway = lark_stack.gateway
    admin = await _token(gateway, "admin")
    await _call(gateway, "DELETE", "/v1/channels/lark/authorization", admin)
    creds = {"app_id": "cli_sandbox_gateway", "app_secret": "wrong"}
    status, answer = await _authorize(gateway, admin, "lark", credentials=creds)
    assert status == 422 and "refused" in answer["error"]["message"], answer
    assert _states(gateway)["lark"] == "revoked"


async def test_revoke_stops_sending_deletes_the_credential_and_authorizing_again_works(
    lark_stack: Embedded,
) -> None:
    gateway, backend = lark_stack.gateway, lark_stack.backend
    assert backend is not None
    platform = lark_stack.platform_of("lark")
    assert isinstance(platform, LarkPlatform)
    admin = await _token(gateway, "admin")
    creds = {"app_id": "cli_sandbox_gateway", "app_secret": APP_SECRET}
    status, answer = await _authorize(gateway, admin, "lark", credentials=creds)
    assert status == 200 and answer["credentials"] == "stored encrypted", answer
    assert APP_SECRET not in str(answer)
    await platform.app().wait_connected()
    seat = await lark_stack.seat("lark", "a-1", "Ann")

    status, answer = await _call(gateway, "DELETE", "/v1/channels/lark/authorization", admin)
    assert status == 200 and answer["state"] == "revoked"
    await eventually(_async(lambda: not platform.app().connected))  # the stream is closed
    with sqlite3.connect(gateway.settings.db_path) as conn:
        rows = conn.execute("SELECT name FROM sealed_secrets").fetchall()
    assert ("channel:lark",) not in rows and ("sentinel",) in rows

    await backend.submit(sample_ticket("T-REV", [approver("a-1", "Ann")]))
    deliveries = (await trace(backend, "T-REV"))["deliveries"]
    assert [d["channel"] for d in deliveries] == ["memory"]  # the next usable channel
    await asyncio.sleep(0.3)
    assert platform.app().cards(seat.address) == []  # nothing reached the platform

    status, _ = await _authorize(gateway, admin, "lark", credentials=creds)
    assert status == 200
    await backend.submit(sample_ticket("T-AGAIN", [approver("a-1", "Ann")]))
    await eventually(_async(lambda: platform.app().cards(seat.address)))
    assert _states(gateway)["lark"] == "authorized"


async def test_revoking_reroutes_queued_deliveries(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)  # channels are tried in the order given below
    backend = SandboxBackend(secret=ensure_backend_secret(settings))
    await backend.start()
    channels: dict[str, Any] = {"primary": _Flaky("primary"), "backup": MemoryChannel("backup")}
    gateway = Gateway(settings=settings, channels=channels, backend_url=backend.url)
    await gateway.start()
    backend.gateway_url = gateway.url
    try:
        await backend.submit(sample_ticket("T-Q", [approver("a1", "Ann")]))
        admin = await _token(gateway, "admin")
        status, answer = await _call(gateway, "DELETE", "/v1/channels/primary/authorization", admin)
        assert status == 200 and answer["rerouted"] == 1
        by_channel = {d["channel"]: d for d in (await trace(backend, "T-Q"))["deliveries"]}
        assert by_channel["primary"]["state"] == "failed"
        assert "channel revoked" in by_channel["primary"]["reason"]
        assert by_channel["backup"]["state"] == "queued"
    finally:
        await gateway.stop()
        await backend.stop()


class _Flaky(MemoryChannel):
    """A platform that is down for now: every send is retried, the card stays queued."""

    async def send(self, card: OutgoingCard) -> SendReceipt:
        raise ChannelError("platform unavailable", retryable=True)


def _async(probe: Any) -> Any:
    async def run() -> Any:
        return probe()

    return run
