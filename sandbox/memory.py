"""The in-memory platform: the smallest sandbox platform, used by the core tests."""

from __future__ import annotations

from bot.channels.memory import MemoryChannel
from bot.core.limits import RateLimits
from bot.core.models import ClickAction
from bot.core.ports import Channel
from bot.settings.config import Settings
from cards import render_lark
from sandbox.platform import ClickOutcome, HeldCard, Seat


class MemoryPlatform:
    """Cards kept in a dict; clicks go straight to the gateway's sink."""

    name = "memory"

    def __init__(self) -> None:
        self.channel = MemoryChannel()

    def start(self, settings: Settings, limits: RateLimits) -> None:
        """Nothing to start (the in-memory channel calls no platform: no budgets to take)."""

    def stop(self) -> None:
        """Nothing to stop."""

    def channels(self) -> dict[str, Channel]:
        """The one memory channel."""
        return {self.channel.name: self.channel}

    def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """Memory reaches accounts by id: the seat's address is the account id."""
        return Seat(
            channel=channel, account_id=account_id, display_name=display_name, address=account_id
        )

    async def click(
        self, seat: Seat, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> ClickOutcome:
        """Press the button through the channel's sink."""
        click = await self.channel.click(seat.address, delivery_id, action, comment)
        held = self.channel.cards.get(delivery_id)
        return ClickOutcome(toast=click.toast, card_state=str(held.view.state) if held else "")

    def card_state(self, seat: Seat, delivery_id: str) -> str | None:
        """The memory card's current state."""
        held = self.channel.cards.get(delivery_id)
        return str(held.view.state) if held and held.address == seat.address else None

    def held(self, seat: Seat) -> list[HeldCard]:
        """The seat's memory cards, drawn as Lark would draw them (memory has no look of its own)."""
        return [
            HeldCard(
                channel=seat.channel,
                look="lark",
                delivery_id=card.delivery_id,
                payload=render_lark(card.view),
            )
            for card in reversed(self.channel.held_by(seat.address))
        ]
