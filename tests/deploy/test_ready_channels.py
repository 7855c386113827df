"""``/readyz`` is not ready while no channel is authorized, unless the deployment says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually


async def _ready(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as response:
        return response.status, await response.json()


async def _revoke(embedded: Embedded, channel: str) -> None:
    gateway = embedded.gateway
    token = new_token()
    await TokenStore(gateway.store).create(token, "admin", "test", gateway.clock.now())
    headers = {"authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{gateway.url}/v1/channels/{channel}/authorization", headers=headers) as r,
    ):
        assert r.status == 200, await r.text()


async def test_revoking_the_last_channel_makes_it_not_ready(stack: object) -> None:
    assert isinstance(stack, Embedded)
    assert (await _ready(stack.gateway.url))[0] == 200  # memory: authorized by the system
    await _revoke(stack, "memory")
    status, body = await _ready(stack.gateway.url)
    assert status == 503, body
    assert body["checks"]["memory"] == "revoked"
    assert body["checks"]["channels"].startswith("no channel is authorized")
    assert "READY_WITHOUT_CHANNELS" in body["checks"]["channels"]


async def test_the_setting_says_no_authorized_channel_is_intended(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data", ready_without_channels=True)
    embedded = await start(settings)
    try:
        await _revoke(embedded, "memory")
        status, body = await _ready(embedded.gateway.url)
        assert status == 200 and "channels" not in body["checks"], body
        assert body["checks"]["memory"] == "revoked"
    finally:
        await embedded.stop()


async def test_the_embedded_default_is_ready(tmp_path: Path) -> None:
    # The sandbox platforms (DingTalk, Lark, mail) are authorized by the system's consent.
    embedded = await start(
        fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk", "lark", "mail"])
    )
    try:

        async def ready() -> dict[str, Any] | None:
            status, body = await _ready(embedded.gateway.url)
            return body if status == 200 else None

        body = await eventually(ready, within=20)
        assert "channels" not in body["checks"]
    finally:
        await embedded.stop()
