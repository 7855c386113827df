"""The Lark sandbox platform: a sandbox Lark app and the gateway's real Lark channel on it.

The channel talks to :class:`LarkSandbox` exactly as to the real open platform: the SDK's
OpenAPI calls and its long connection (or, in HTTP mode, signed and encrypted callbacks), with
only the domain pointed at the sandbox. Seats are sandbox users whose ``open_id`` is bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

from bot.channels.lark.channel import LarkChannel, message_uuid
from bot.core.limits import RateLimits
from bot.core.models import ClickAction
from bot.core.ports import Channel
from bot.settings.config import LarkSettings, Settings
from cards import Locale
from cards.i18n import ui
from cards.palette import LARK_TEMPLATES
from sandbox.lark.sandbox import LarkSandbox, SandboxMessage
from sandbox.platform import ClickOutcome, HeldCard, Seat

APP_ID = "cli_sandbox_gateway"
APP_SECRET = "sandbox-gateway-secret"
CALLBACK_PATH = "/callbacks/lark"


class LarkPlatform:
    """One sandbox Lark app and the channel pointed at it."""

    name = "lark"

    def __init__(self, *, ack_timeout: float = 5.0) -> None:
        self._ack_timeout = ack_timeout
        self.sandbox: LarkSandbox | None = None
        self._channel: LarkChannel | None = None
        self.settings: LarkSettings | None = None

    def start(self, settings: Settings, limits: RateLimits) -> None:
        """Start the sandbox app and build the real channel for it."""
        configured = settings.lark
        token = configured.verification_token
        self.sandbox = LarkSandbox(
            app_id=APP_ID,
            app_secret=APP_SECRET,
            ack_timeout=self._ack_timeout,
            verification_token=token.get_secret_value() if token else "",
        )
        self.sandbox.start()
        values = configured.model_dump()
        values.update(app_id=APP_ID, app_secret=SecretStr(APP_SECRET), domain=self.sandbox.base_url)
        self.settings = LarkSettings.model_validate(values)
        self._channel = LarkChannel(self.settings, limits=limits)

    def stop(self) -> None:
        """Stop the sandbox app."""
        if self.sandbox is not None:
            self.sandbox.stop()

    def channels(self) -> dict[str, Channel]:
        """The real Lark channel."""
        return {"lark": self._channel} if self._channel is not None else {}

    def channel(self) -> LarkChannel:
        """The channel, typed."""
        assert self._channel is not None
        return self._channel

    def app(self) -> LarkSandbox:
        """The running sandbox app."""
        assert self.sandbox is not None
        return self.sandbox

    def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """A user of the sandbox tenant; the seat's address is their open_id."""
        open_id = f"ou_{account_id}"
        self.app().add_user(open_id, name=display_name, email=f"{account_id}@sandbox.example")
        return Seat(
            channel=channel, account_id=account_id, display_name=display_name, address=open_id
        )

    def message_of(self, seat: Seat, delivery_id: str) -> SandboxMessage:
        """The card message the seat holds for ``delivery_id`` (KeyError if none)."""
        # The channel derives each send's uuid from the delivery id; buttons vanish once decided.
        uuid = message_uuid(delivery_id)
        for message in self.app().cards(seat.address):
            if message.uuid == uuid:
                return message
        raise KeyError(delivery_id)

    async def click(
        self, seat: Seat, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> ClickOutcome:
        """Press Approve/Reject on the seat's card, submitting the form's comment input."""
        message = self.message_of(seat, delivery_id)
        value = next(v for v in button_values(message.content) if v.get("action") == action.value)
        result = await self.app().click(
            seat.address, message.message_id, value, form_value={"comment": comment or ""}
        )
        toast = result.toast.get("content", "") if result.toast else ""
        state = self.card_state(seat, delivery_id) or ""
        return ClickOutcome(toast=str(toast), card_state=state, failed=result.failed)

    async def pick(self, seat: Seat, delivery_id: str, address: str) -> ClickOutcome:
        """Pick the person with the open_id ``address`` on the hand-over picker of the seat's
        card (:class:`~sandbox.platform.PersonPicking`)."""
        message = self.message_of(seat, delivery_id)
        result = await self.app().pick(seat.address, message.message_id, address)
        toast = result.toast.get("content", "") if result.toast else ""
        state = self.card_state(seat, delivery_id) or ""
        return ClickOutcome(toast=str(toast), card_state=state, failed=result.failed)

    def card_state(self, seat: Seat, delivery_id: str) -> str | None:
        """The state the seat's card shows now, read from its header."""
        try:
            message = self.message_of(seat, delivery_id)
        except KeyError:
            return None
        return state_of(message.content)

    def held(self, seat: Seat) -> list[HeldCard]:
        """The seat's interactive messages, newest first, with the delivery their buttons name."""
        return [
            HeldCard(
                channel=seat.channel,
                look="lark",
                delivery_id=_delivery_of(message),
                payload=message.content,
            )
            for message in reversed(self.app().cards(seat.address))
        ]


def _delivery_of(message: SandboxMessage) -> str:
    # Buttons carry the delivery id as their ref; a decided card has none, so look back.
    for version in reversed(message.versions):
        for value in button_values(version.content):
            ref = value.get("ref")
            if isinstance(ref, str) and ref:
                return ref
    return ""


def button_values(node: Any) -> Iterator[dict[str, Any]]:
    """Every callback value on the card's buttons, depth first."""
    if isinstance(node, dict):
        for behavior in node.get("behaviors") or []:
            if isinstance(behavior, dict) and behavior.get("type") == "callback":
                yield behavior.get("value") or {}
        for child in node.values():
            yield from button_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from button_values(child)


def state_of(card: dict[str, Any]) -> str | None:
    """The card's state: its header template, or for grey the status line under the title."""
    header = card.get("header") or {}
    template = header.get("template")
    subtitle = (header.get("subtitle") or {}).get("content")
    for state, name in LARK_TEMPLATES.items():
        if name != template:
            continue
        if name != "grey" or any(ui(loc).states[state] == subtitle for loc in Locale):
            return str(state)
    return None


__all__ = ["CALLBACK_PATH", "LarkPlatform", "button_values", "state_of"]
