"""An in-memory chat channel: keeps every card it is given and lets a test or the demo click.

It reaches every approver by account id, so it needs no binding; it is a sandbox channel and is
never routed to in a deployment with real platforms.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from bot.channels.base import ChannelDefaults
from bot.channels.present import card_view, toast_text
from bot.core.intake import Approver
from bot.core.models import ActionResult, ClickAction, InboundAction
from bot.core.ports import ChannelHealth, InboundSink, OutgoingCard, SendReceipt
from bot.errors import ChannelError
from cards import ApprovalView


@dataclass
class MemoryCard:
    """One card as the approver holds it, with every version it was drawn in."""

    delivery_id: str
    address: str
    versions: list[ApprovalView] = field(default_factory=list)

    @property
    def view(self) -> ApprovalView:
        """The card as it looks now."""
        return self.versions[-1]


@dataclass(frozen=True)
class MemoryClick:
    """What a click got back."""

    result: ActionResult
    toast: str


class MemoryChannel(ChannelDefaults):
    """Channel port implementation that keeps cards in a dict (no optional capability)."""

    kind: Literal["chat", "email"] = "chat"

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.cards: dict[str, MemoryCard] = {}
        self.told: list[tuple[str, str]] = []  # (address, text) of plain messages
        self._sink: InboundSink | None = None
        self._arrived = asyncio.Condition()
        self.refused: set[str] = set()  # addresses the "platform" refuses for good

    async def start(self, sink: InboundSink) -> None:
        """Remember where clicks go."""
        self._sink = sink

    async def stop(self) -> None:
        """Forget the sink."""
        self._sink = None

    def health(self) -> ChannelHealth:
        """Connected while started."""
        return ChannelHealth(connected=self._sink is not None)

    def default_address(self, approver: Approver) -> str | None:
        """Every account is reachable by its id."""
        return approver.account_id

    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Keep the card; a second send of the same delivery keeps one card."""
        if card.delivery.address in self.refused:
            raise ChannelError("user is outside the app's availability scope", retryable=False)
        held = self.cards.setdefault(
            card.delivery.id,
            MemoryCard(delivery_id=card.delivery.id, address=card.delivery.address or ""),
        )
        if not held.versions:
            held.versions.append(card_view(card.request, card.delivery))
        async with self._arrived:
            self._arrived.notify_all()
        return SendReceipt(external_ref=card.delivery.id, detail="held in memory")

    async def wait_for(self, delivery_id: str) -> MemoryCard:
        """The card for ``delivery_id``, once it has been sent (callers bound the wait)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: delivery_id in self.cards)
        return self.cards[delivery_id]

    async def tell(self, address: str, text: str) -> None:
        """Record the message for ``address``."""
        self.told.append((address, text))

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """Redraw the held card."""
        held = self.cards.get(card.delivery.id)
        if held is None:
            raise ChannelError("no such card", retryable=False)
        held.versions.append(card_view(card.request, card.delivery))
        return SendReceipt(external_ref=card.delivery.id, detail=str(held.view.state))

    def held_by(self, address: str) -> list[MemoryCard]:
        """The cards one approver holds."""
        return [card for card in self.cards.values() if card.address == address]

    async def click(
        self, address: str, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> MemoryClick:
        """Press a button on a card as ``address``; the answer redraws that person's card."""
        if self._sink is None:
            raise ChannelError("channel is not started", retryable=False)
        held = self.cards.get(delivery_id)
        result = await self._sink.action(
            InboundAction(
                channel=self.name,
                actor=address,
                ref=held.view.action_ref if held is not None else delivery_id,  # as its buttons say
                action=action,
                comment=comment,
                source="memory",
            )
        )
        redrawn = held is not None and held.address == address
        if held is not None and redrawn and result.request and result.delivery:
            held.versions.append(card_view(result.request, result.delivery))
        await self._sink.answered(result, redrawn=redrawn)
        return MemoryClick(result=result, toast=toast_text(result))
