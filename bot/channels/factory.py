"""Real channels built from settings, for deployments that talk to the actual platforms.

A channel runs when its credentials are configured. Each module is imported only then: the
platform SDKs take seconds to import and a deployment without Lark should never pay for it.
"""

from __future__ import annotations

from bot.config import Settings
from bot.core.ports import Channel


def configured_names(settings: Settings) -> set[str]:
    """The channels whose credentials the settings carry (real platforms, not sandbox ones)."""
    names = {n for n in ("dingtalk", "dingtalk_enterprise") if getattr(settings, n).client_id}
    if settings.lark.app_id:
        names.add("lark")
    if settings.email.host:
        names.add("email")
    return names


def configured_channels(settings: Settings) -> dict[str, Channel]:
    """Every channel whose credentials are set, by name."""
    channels: dict[str, Channel] = {}
    for name in ("dingtalk", "dingtalk_enterprise"):
        if getattr(settings, name).client_id:
            from bot.channels.dingtalk import DingTalkChannel

            channels[name] = DingTalkChannel(name, getattr(settings, name))
    if settings.lark.app_id:
        from bot.channels.lark import lark_channel

        lark = lark_channel(settings)
        if lark is not None:
            channels[lark.name] = lark
    if settings.email.host:
        from bot.channels.email import email_channel

        email = email_channel(settings.email)
        if email is not None:
            channels[email.name] = email
    return channels
