"""What every channel shares: no-op defaults for the optional capabilities, and HTTP routes.

A channel class declares ``capabilities`` and overrides the methods behind the flags it sets;
the defaults here do nothing (``check``) or refuse (``lookup``, ``notify``), so callers test a
declared flag and call a typed method, never probe for one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aiohttp import web
from pydantic import BaseModel

from bot.core.intake import ChannelName, UrgencyKind
from bot.core.ports import CallbackGuard, Channel, ChannelCapabilities, LookupKey
from bot.errors import ChannelError


class ChannelDefaults:
    """Mixin for channel classes: declares no capability and implements none of them."""

    name: ChannelName
    capabilities = ChannelCapabilities()
    settings: BaseModel | None = None

    async def check(self) -> None:
        """No credential check: nothing to prove."""

    async def lookup(self, key: LookupKey, value: str) -> str | None:
        """Refused: this channel finds nobody."""
        raise ChannelError(f"{self.name} cannot look users up by {key}", retryable=False)

    async def notify(self, to: str, subject: str, text: str) -> None:
        """Refused: this channel sends no notices."""
        raise ChannelError(f"{self.name} sends no notices", retryable=False)

    async def urge(self, address: str, external_ref: str, kind: UrgencyKind, text: str) -> None:
        """Refused: this channel has no urgency (a reminder is then a plain message)."""
        raise ChannelError(f"{self.name} offers no {kind} urgency", retryable=False)


@runtime_checkable
class RouteProvider(Protocol):
    """A channel that can serve platform callbacks on the gateway's HTTP listener."""

    def routes(self, guard: CallbackGuard) -> list[web.RouteDef]:
        """Its callback routes (none unless in HTTP callback mode); replays refused by ``guard``."""
        ...


def callback_routes(channel: Channel, guard: CallbackGuard) -> list[web.RouteDef]:
    """The channel's HTTP callback routes, or none when it serves no callbacks."""
    return channel.routes(guard) if isinstance(channel, RouteProvider) else []
