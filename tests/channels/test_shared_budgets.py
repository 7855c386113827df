"""Every channel of a gateway paces its platform calls on one ``RateLimits``, the one the
composition root chose from ``RATE_LIMITS``: the database's by default (so a slot one channel
takes is taken for every replica on the database), this process's with ``process``.

The channels get it from their factory when they are built, not when they start: a configured
Lark or DingTalk app that waits for an admin's consent already holds the gateway's budgets; the
sandbox's channels hold the same ones, and so does a channel built again from credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import pytest

from bot.app.launch import Launched, start
from bot.app.runtime import Gateway
from bot.channels.dingtalk.channel import DingTalkChannel
from bot.channels.lark.channel import LarkChannel
from bot.core.limits import Budget, RateLimits
from bot.store.limits import StoredRateLimits
from sandbox.embedded import start as start_embedded
from sandbox.lark.platform import APP_ID, APP_SECRET
from tests.conftest import fast_settings
from tests.gateway.admin import authorize, token
from tests.store.engines import postgres_schema

Mode = Literal["database", "process"]
Engine = Literal["sqlite", "postgresql"]
# Real platforms in callback mode: building and holding them connects nowhere.
PLATFORMS: dict[str, dict[str, str]] = {
    "lark": {
        "app_id": "cli_x",
        "app_secret": "s",
        "mode": "http",
        "encrypt_key": "e",
        "verification_token": "v",
    },
    "dingtalk": {
        "client_id": "ding-id",
        "client_secret": "s",
        "robot_code": "ding-id",
        "mode": "http",
        "callback_token": "t",
        "callback_aes_key": "a" * 43,
    },
}


# One call a hundred seconds: a slot taken stays taken for the whole test.
SLOW = 0.01


def budgets(gateway: Gateway, name: str) -> RateLimits:
    """The budgets the running gateway's channel ``name`` paces its calls on."""
    channel = gateway.channels[name]
    assert isinstance(channel, LarkChannel | DingTalkChannel)
    return channel.api.limits


async def taken_for_everyone(gateway: Gateway, limits: RateLimits, key: str) -> bool:
    """Take the next slot of ``key`` through ``limits``; is it then taken for anyone reading
    the gateway's database (another replica) as well."""
    slow = Budget(key, SLOW)
    assert (await limits.reserve(slow, within=0.0)).granted
    elsewhere = await StoredRateLimits(gateway.store).reserve(slow, within=0.0)
    return not elsewhere.granted


@contextlib.contextmanager
def database(engine: Engine) -> Iterator[dict[str, str]]:
    """The settings that put the gateway on ``engine`` (PostgreSQL: a schema of its own)."""
    if engine == "sqlite":
        yield {}
        return
    with postgres_schema() as url:
        yield {"database_url": url}


@contextlib.asynccontextmanager
async def real_platforms(tmp_path: Path, mode: Mode, engine: Engine) -> AsyncIterator[Gateway]:
    """The product alone (no sandbox) with Lark and DingTalk configured, started by ``serve``'s
    own start from settings."""
    with database(engine) as where:
        settings = fast_settings(
            tmp_path / "data",
            **where,
            sandbox=False,
            backend_url="http://127.0.0.1:9/decisions",
            rate_limits=mode,
            ready_without_channels=True,
            **PLATFORMS,
        )
        launched: Launched = await start(settings)
        try:
            yield launched.gateway
        finally:
            await launched.stop()


@pytest.mark.parametrize(
    ("engine", "mode"),
    [("sqlite", "database"), ("postgresql", "database"), ("sqlite", "process")],
)
async def test_the_configured_platforms_share_the_budgets_rate_limits_names(
    tmp_path: Path, engine: Engine, mode: Mode
) -> None:
    async with real_platforms(tmp_path, mode, engine) as gateway:
        # Not authorized yet (a real platform waits for an admin), so not started either.
        lark, dingtalk = budgets(gateway, "lark"), budgets(gateway, "dingtalk")
        assert lark is dingtalk
        assert await taken_for_everyone(gateway, lark, "app:x") is (mode == "database")
        # One object: what Lark took, DingTalk sees taken.
        assert not (await dingtalk.reserve(Budget("app:x", SLOW), within=0.0)).granted


async def test_the_sandbox_platforms_take_the_database_budgets_too(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark", "dingtalk"])
    embedded = await start_embedded(settings)
    try:
        gateway = embedded.gateway
        names = ["lark", "dingtalk", "dingtalk_enterprise"]
        assert len({id(budgets(gateway, name)) for name in names}) == 1
        assert await taken_for_everyone(gateway, budgets(gateway, "lark"), "app:y")
        # A channel built again from credentials an admin gives takes the same budgets.
        admin = await token(gateway, "admin")
        creds = {"app_id": APP_ID, "app_secret": APP_SECRET}
        status, answer = await authorize(gateway, admin, "lark", credentials=creds)
        assert status == 200 and answer["credentials"] == "stored encrypted", answer
        assert budgets(gateway, "lark") is budgets(gateway, "dingtalk")
    finally:
        await embedded.stop()
