"""Channels built from credentials: the registry's factory for a name, the credential check
an authorization runs, and the stand-in that keeps a broken channel visible to routing."""

from __future__ import annotations

from typing import Literal

from bot.channels.base import ChannelDefaults
from bot.channels.registry import REGISTRY
from bot.core.intake import Approver
from bot.core.limits import RateLimits
from bot.core.ports import (
    Channel,
    ChannelCapabilities,
    ChannelHealth,
    InboundSink,
    OutgoingCard,
    SendReceipt,
)
from bot.errors import ChannelError, InvalidInput
from bot.settings.config import Settings


async def check_credentials(channel: Channel, *, running: bool) -> str:
    """Run the channel's credential check when it has one; say what was checked."""
    if not channel.capabilities.credential_check:
        return f"skipped: {channel.name} has no credential check"
    try:
        await channel.check()
    except ChannelError as exc:
        if not running:
            await channel.stop()  # release what the check opened on a channel never started
        raise InvalidInput(
            f"{channel.name} refused the credentials: {exc.message}",
            {"credentials": "refused by the platform"},
        ) from None
    return "credentials accepted by the platform"


class UnusableChannel(ChannelDefaults):
    """Stands in for a broken channel (no usable credential): routing sees it and skips it with
    the reason; it never starts and refuses every send. Kind and China-only flag are the
    registry's for the name, so routing traces the skip where the channel would have ranked."""

    def __init__(self, name: str) -> None:
        spec = REGISTRY.get(name)
        self.name = name
        self.kind: Literal["chat", "email"] = spec.kind if spec is not None else "chat"
        self.capabilities = ChannelCapabilities(china_only=spec is not None and spec.china_only)

    async def start(self, sink: InboundSink) -> None:
        """Nothing to start without a credential."""

    async def stop(self) -> None:
        """Nothing runs."""

    def health(self) -> ChannelHealth:
        """Never connected."""
        return ChannelHealth(connected=False, detail="broken: no usable credential")

    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Refused: there is no credential to send with."""
        raise ChannelError(f"{self.name} has no usable credential", retryable=False)

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """Refused: there is no credential to send with."""
        raise ChannelError(f"{self.name} has no usable credential", retryable=False)

    async def tell(self, address: str, text: str) -> None:
        """Refused: there is no credential to send with."""
        raise ChannelError(f"{self.name} has no usable credential", retryable=False)

    def default_address(self, approver: Approver) -> str | None:
        """Nobody is reached."""
        return None


def build_channel(
    name: str,
    current: Channel | None,
    settings: Settings,
    credentials: dict[str, str],
    limits: RateLimits,
) -> Channel:
    """A channel for ``name`` from its settings (or the running one's) plus ``credentials``,
    pacing its calls on ``limits`` (the budgets every channel of this gateway shares)."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise InvalidInput(f"{name} takes no credentials", {"credentials": "not accepted"})
    return spec.with_credentials(current, settings, credentials, limits)
