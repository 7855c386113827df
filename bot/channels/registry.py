"""Every channel this gateway can run, named once: kind, China-only, credentials, factory.

Everything that needs the set of channels reads it here: the settings check (a test keeps the
settings' channel names equal to these), the authorization API (which credential fields a
channel accepts), the factory of configured channels, the stand-in for a broken one. The core
never imports this module; it sees each running channel's flags through the ``Channel`` port.

Each factory imports its channel module only when called: the platform SDKs take seconds to
import and a deployment without Lark should never pay for it. Every factory takes the platforms'
rate budgets (``RateLimits``) from its caller: the composition root chooses them once (kept in
the database and shared by the replicas, or in this process) and each channel it builds, from
settings or from credentials, paces its calls on that same object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from bot.core.limits import RateLimits
from bot.core.ports import Channel
from bot.errors import InvalidInput
from bot.settings.config import DingTalkSettings, EmailSettings, LarkSettings, Settings

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class Platform(Generic[S]):
    """How a platform's channel is built from its settings group."""

    model: type[S]
    group: Callable[[Settings], S]  # the channel's group in the settings
    configured: Callable[[S], bool]  # do the settings carry its credentials
    # ConfigError when the group is incomplete; the channel paces its calls on the RateLimits.
    factory: Callable[[str, S, RateLimits], Channel]

    def with_credentials(
        self,
        name: str,
        current: Channel | None,
        settings: Settings,
        credentials: dict[str, str],
        limits: RateLimits,
    ) -> Channel:
        # Merged into the running channel's group when there is one (a sandbox stand-in points
        # at its sandbox), else into the settings' group.
        base = current.settings if current is not None else None
        group = base if isinstance(base, self.model) else self.group(settings)
        merged = self.model.model_validate({**group.model_dump(), **credentials})
        return self.factory(name, merged, limits)


@dataclass(frozen=True)
class ChannelSpec:
    """One channel name and what is known about it before anything is built."""

    name: str
    kind: Literal["chat", "email"]
    china_only: bool = False
    credential_fields: frozenset[str] = frozenset()  # what the authorization API accepts
    platform: Platform[Any] | None = None  # None: built in code only (the in-memory channel)

    def configured(self, settings: Settings) -> bool:
        """Do the settings carry this channel's credentials."""
        return self.platform is not None and self.platform.configured(self.platform.group(settings))

    def build(self, settings: Settings, limits: RateLimits) -> Channel:
        """The channel from ``settings``, pacing its calls on ``limits`` (ConfigError when its
        credentials are incomplete)."""
        if self.platform is None:
            from bot.channels.memory import MemoryChannel

            return MemoryChannel(self.name)
        return self.platform.factory(self.name, self.platform.group(settings), limits)

    def with_credentials(
        self,
        current: Channel | None,
        settings: Settings,
        credentials: dict[str, str],
        limits: RateLimits,
    ) -> Channel:
        """The channel from its settings (or the running one's) plus ``credentials``, pacing
        its calls on ``limits``."""
        if self.platform is None or not self.credential_fields:
            raise InvalidInput(f"{self.name} takes no credentials", {"credentials": "not accepted"})
        return self.platform.with_credentials(self.name, current, settings, credentials, limits)


def _lark(name: str, settings: LarkSettings, limits: RateLimits) -> Channel:
    from bot.channels.lark.channel import LarkChannel

    return LarkChannel(settings, name, limits=limits)


def _dingtalk(name: str, settings: DingTalkSettings, limits: RateLimits) -> Channel:
    from bot.channels.dingtalk.channel import DingTalkChannel

    return DingTalkChannel(name, settings, limits=limits)


def _email(name: str, settings: EmailSettings, limits: RateLimits) -> Channel:
    # Mail has no platform budgets to take.
    from bot.channels.email import EmailChannel

    return EmailChannel(settings)


_DINGTALK_FIELDS = frozenset(
    {"client_id", "client_secret", "robot_code", "callback_token", "callback_aes_key"}
)


def _dingtalk_platform(group: Callable[[Settings], DingTalkSettings]) -> Platform[DingTalkSettings]:
    return Platform(DingTalkSettings, group, lambda s: bool(s.client_id), _dingtalk)


SPECS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "dingtalk",
        "chat",
        china_only=True,
        credential_fields=_DINGTALK_FIELDS,
        platform=_dingtalk_platform(lambda s: s.dingtalk),
    ),
    ChannelSpec(
        "dingtalk_enterprise",
        "chat",
        china_only=True,
        credential_fields=_DINGTALK_FIELDS,
        platform=_dingtalk_platform(lambda s: s.dingtalk_enterprise),
    ),
    ChannelSpec(
        "lark",
        "chat",
        credential_fields=frozenset({"app_id", "app_secret", "encrypt_key", "verification_token"}),
        platform=Platform(LarkSettings, lambda s: s.lark, lambda s: bool(s.app_id), _lark),
    ),
    ChannelSpec(
        "email",
        "email",
        credential_fields=frozenset(
            {"host", "port", "security", "username", "password", "from_address"}
        ),
        platform=Platform(EmailSettings, lambda s: s.email, lambda s: bool(s.host), _email),
    ),
    ChannelSpec("memory", "chat"),
)
REGISTRY: Mapping[str, ChannelSpec] = {spec.name: spec for spec in SPECS}


def chat_platforms() -> list[str]:
    """The chat channels a real platform runs (where a user can be looked up), in order."""
    return [spec.name for spec in SPECS if spec.kind == "chat" and spec.platform is not None]


def configured_names(settings: Settings) -> set[str]:
    """The channels whose credentials the settings carry (real platforms, not sandbox ones)."""
    return {spec.name for spec in SPECS if spec.configured(settings)}


def configured_channels(settings: Settings, limits: RateLimits) -> dict[str, Channel]:
    """Every channel whose credentials are set, by name, all pacing their calls on ``limits``."""
    return {spec.name: spec.build(settings, limits) for spec in SPECS if spec.configured(settings)}
