"""The channel registry names every channel the settings accept, and each entry builds one.

Each built channel must match what the registry says of it before anything is built (kind,
China-only), since routing a broken channel's stand-in and the authorization API rely on the
registry alone; and a capability a channel does not declare must be refused, not faked.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from bot.channel_access import UnusableChannel, build_channel
from bot.channels.common.ratelimit import LocalLimits
from bot.channels.dingtalk.channel import DingTalkChannel
from bot.channels.lark.channel import LarkChannel
from bot.channels.registry import (
    REGISTRY,
    SPECS,
    ChannelSpec,
    configured_channels,
    configured_names,
)
from bot.core.ports import Channel, LookupKey
from bot.core.validation import KNOWN_CHANNELS
from bot.errors import ChannelError, InvalidInput
from bot.settings.config import DEFAULT_ORDER, ChannelSetting, LarkSettings, Settings, load_settings

SANDBOX = "http://127.0.0.1:9"
LIMITS = LocalLimits()  # the budgets a composition root would hand every factory
# Every platform configured, with credentials that are never used (nothing connects).
CREDENTIALS = {
    "dingtalk": {"client_id": "ding-id", "client_secret": "s", "robot_code": "ding-id"},
    "dingtalk_enterprise": {"client_id": "dte-id", "client_secret": "s", "robot_code": "dte-id"},
    "lark": {"app_id": "cli_x", "app_secret": "s"},
    "email": {"host": "smtp.invalid"},
}


def _settings(tmp_path: Path, names: tuple[str, ...] = tuple(CREDENTIALS)) -> Settings:
    groups = {name: CREDENTIALS[name] for name in names}
    return load_settings(None, data_dir=tmp_path, backend_url="http://127.0.0.1:9", **groups)


def test_registry_names_are_the_settings_channel_names() -> None:
    assert [spec.name for spec in SPECS] == list(get_args(ChannelSetting))
    assert set(DEFAULT_ORDER) <= set(REGISTRY)
    # Bindings and channel orders are validated against core's list of names.
    assert tuple(REGISTRY) == KNOWN_CHANNELS


@pytest.mark.parametrize("entry", SPECS, ids=lambda entry: entry.name)
def test_every_entry_builds_a_channel_that_matches_it(entry: ChannelSpec, tmp_path: Path) -> None:
    channel: Channel = entry.build(_settings(tmp_path), LIMITS)
    assert (channel.name, channel.kind) == (entry.name, entry.kind)
    assert channel.capabilities.china_only is entry.china_only
    stand_in = UnusableChannel(entry.name)
    assert (stand_in.kind, stand_in.capabilities.china_only) == (entry.kind, entry.china_only)


def test_configured_channels_are_those_with_credentials(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ("dingtalk_enterprise", "email"))
    assert configured_names(settings) == {"dingtalk_enterprise", "email"}
    assert sorted(configured_channels(settings, LIMITS)) == ["dingtalk_enterprise", "email"]


async def test_undeclared_capabilities_are_refused(tmp_path: Path) -> None:
    built = configured_channels(_settings(tmp_path), LIMITS)
    for channel in built.values():
        for key in get_args(LookupKey):
            if key not in channel.capabilities.lookups:
                with pytest.raises(ChannelError, match="cannot look users up"):
                    await channel.lookup(key, "someone")
        if not channel.capabilities.notices:
            with pytest.raises(ChannelError, match="sends no notices"):
                await channel.notify("a@example.com", "subject", "text")
    assert {n for n, c in built.items() if c.capabilities.notices} == {"email"}
    assert {n for n, c in built.items() if c.capabilities.lookups} == {
        "dingtalk",
        "dingtalk_enterprise",
        "lark",
    }


def test_credentials_merge_into_the_running_channel_settings(tmp_path: Path) -> None:
    # A channel the sandbox built points at its stand-in platform: new credentials keep that.
    settings = _settings(tmp_path, ())
    sandbox = LarkSettings(app_id="cli_x", app_secret="s", domain=SANDBOX)
    sandboxed = LarkChannel(sandbox, limits=LIMITS)
    creds = {"app_id": "cli_y", "app_secret": "t"}
    rebuilt = build_channel("lark", sandboxed, settings, creds, LIMITS)
    assert isinstance(rebuilt.settings, LarkSettings)
    assert (rebuilt.settings.app_id, rebuilt.settings.domain) == ("cli_y", SANDBOX)
    fresh = build_channel("lark", None, settings, creds, LIMITS)
    assert isinstance(fresh.settings, LarkSettings) and fresh.settings.domain != SANDBOX
    with pytest.raises(InvalidInput, match="takes no credentials"):
        build_channel("memory", None, settings, {"app_id": "cli_y"}, LIMITS)


def test_every_platform_channel_paces_its_calls_on_the_budgets_it_was_built_with(
    tmp_path: Path,
) -> None:
    # One object for all: the registry never makes budgets of its own for a channel.
    settings, limits = _settings(tmp_path), LocalLimits()
    built = configured_channels(settings, limits)
    again = build_channel("dingtalk", built["dingtalk"], settings, {"client_id": "x"}, limits)
    paced = [c for c in (*built.values(), again) if isinstance(c, LarkChannel | DingTalkChannel)]
    assert len(paced) == 4
    assert all(channel.api.limits is limits for channel in paced)
