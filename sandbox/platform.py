"""What a sandbox platform offers the embedded deployment, the demo and support.

Each platform (memory, Lark, DingTalk, mail) starts its local stand-in, builds the gateway's real
channel pointed at it, creates sandbox users ("seats") for approvers, and can press a card's
button as one of them through the platform's real callback protocol.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from bot.core.limits import RateLimits
from bot.core.models import ClickAction, Entity
from bot.core.ports import Channel
from bot.settings.config import Settings


class Seat(Entity):
    """A sandbox user standing in for an approver on one channel."""

    channel: str
    account_id: str
    display_name: str
    address: str  # the chat identity the account is bound to on that channel


class ClickOutcome(Entity):
    """What the clicker saw: the toast, and the state their card now shows."""

    toast: str  # or the platform's error when the answer did not come in time
    card_state: str
    failed: bool = False  # the platform counted the click's answer as failed (too late)


class HeldCard(Entity):
    """A card a seat holds now, as its platform stores it (for the sandbox phone)."""

    channel: str
    look: Literal["lark", "dingtalk"]  # which phone renderer draws the payload
    delivery_id: str  # "" once the card no longer says (a decided Lark card has no buttons)
    payload: dict[str, Any]


class SandboxPlatform(Protocol):
    """A local platform stand-in plus the channels that talk to it."""

    name: str

    def start(self, settings: Settings, limits: RateLimits) -> None:
        """Start the stand-in servers (each on its own thread where the SDK needs it); the
        channels pace their calls on ``limits``, the gateway's budgets."""
        ...

    def stop(self) -> None:
        """Stop the stand-in servers."""
        ...

    def channels(self) -> dict[str, Channel]:
        """The gateway's real channel adapters, configured for the stand-in."""
        ...

    def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """Create a sandbox user for an approver on ``channel``."""
        ...

    async def click(
        self, seat: Seat, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> ClickOutcome:
        """Press a button on the seat's card for ``delivery_id``, over the real protocol."""
        ...

    def card_state(self, seat: Seat, delivery_id: str) -> str | None:
        """The state the seat's card for ``delivery_id`` shows now (None if it holds none)."""
        ...

    def held(self, seat: Seat) -> list[HeldCard]:
        """The interactive cards the seat holds now, newest first."""
        ...


@runtime_checkable
class PersonPicking(Protocol):
    """A platform whose cards carry a person picker (Lark's ``select_person``)."""

    async def pick(self, seat: Seat, delivery_id: str, address: str) -> ClickOutcome:
        """Pick the person at ``address`` on the picker of the seat's card for ``delivery_id``."""
        ...
