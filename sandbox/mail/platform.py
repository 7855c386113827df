"""The ``mail`` sandbox platform: the mail catcher and the real email channel pointed at it."""

from __future__ import annotations

import re

from bot.channels.email import EmailChannel, delivery_of
from bot.core.limits import RateLimits
from bot.core.models import ClickAction
from bot.core.ports import Channel
from bot.errors import ConfigError
from bot.settings.config import Settings
from sandbox.mail.catcher import MailCatcher
from sandbox.platform import ClickOutcome, HeldCard, Seat

SANDBOX_DOMAIN = "sandbox.example"  # RFC 2606: can never reach a real mailbox
NO_BUTTONS = "email has no buttons — open the console"


def sandbox_address(account_id: str) -> str:
    """The seat's mailbox: the account id made safe for a local part."""
    local = re.sub(r"[^A-Za-z0-9._-]", "-", account_id).strip(".") or "account"
    return f"{local}@{SANDBOX_DOMAIN}"


class MailPlatform:
    """A local SMTP catcher; approvers get mail at ``<account>@sandbox.example``."""

    name = "mail"

    def __init__(self) -> None:
        self.catcher = MailCatcher()
        self.channel: EmailChannel | None = None

    def start(self, settings: Settings, limits: RateLimits) -> None:
        """Start the catcher and point a real email channel at it (plain SMTP, no auth; mail
        takes no platform budgets)."""
        self.catcher.start()
        self.channel = EmailChannel(
            settings.email.model_copy(
                update={
                    "host": self.catcher.host,
                    "port": self.catcher.port,
                    "security": "none",
                    "username": None,
                    "password": None,
                }
            )
        )

    def stop(self) -> None:
        """Stop the catcher."""
        self.catcher.stop()

    def channels(self) -> dict[str, Channel]:
        """The email channel (once started)."""
        return {self.channel.name: self.channel} if self.channel is not None else {}

    def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """A sandbox mailbox for the account."""
        if channel != "email":
            raise ConfigError(f"the mail platform serves only email, not {channel}")
        return Seat(
            channel=channel,
            account_id=account_id,
            display_name=display_name,
            address=sandbox_address(account_id),
        )

    async def click(
        self, seat: Seat, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> ClickOutcome:
        """Email has nothing to click: the gateway is not called."""
        return ClickOutcome(toast=NO_BUTTONS, card_state=self.card_state(seat, delivery_id) or "")

    def card_state(self, seat: Seat, delivery_id: str) -> str | None:
        """The state of the latest mail for ``delivery_id``: pending, or the closing state."""
        for message in reversed(self.catcher.messages(seat.address)):
            if delivery_of(str(message.get("Message-ID", ""))) == delivery_id:
                return str(message.get("X-Approval-State", "")) or None
        return None

    def held(self, seat: Seat) -> list[HeldCard]:
        """Email has no cards to draw on a phone."""
        return []
