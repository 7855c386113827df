"""The DingTalk sandbox platform: two sandbox apps and the gateway's real channels on them.

``dingtalk`` and ``dingtalk_enterprise`` are separate apps with their own credentials, robot and
org, as a customer running both editions would have; each channel talks to its own sandbox over
the real stream protocol and OpenAPI.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bot.channels.dingtalk.channel import DingTalkChannel
from bot.channels.dingtalk.inbound import delivery_of, out_track_id
from bot.core.limits import RateLimits
from bot.core.models import ClickAction
from bot.core.ports import Channel
from bot.settings.config import DingTalkSettings, Settings
from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.platform import ClickOutcome, HeldCard, Seat

TEMPLATE = "approval_gateway.schema"


@dataclass(frozen=True)
class SandboxApp:
    """Credentials of one sandbox DingTalk app."""

    client_id: str
    client_secret: str
    robot_code: str
    corp_id: str


APPS = {
    "dingtalk": SandboxApp("ding_sandbox", "sandbox-secret", "ding_sandbox_robot", "dingcorp_std"),
    "dingtalk_enterprise": SandboxApp(
        "ding_enterprise", "enterprise-secret", "ding_enterprise_robot", "dingcorp_ent"
    ),
}


class DingTalkPlatform:
    """Two sandbox DingTalk apps and the channels pointed at them."""

    name = "dingtalk"

    def __init__(self, *, ack_timeout: float = 5.0) -> None:
        self.sandboxes = {
            name: DingTalkSandbox(
                client_id=app.client_id,
                client_secret=app.client_secret,
                robot_code=app.robot_code,
                corp_id=app.corp_id,
                ack_timeout=ack_timeout,
            )
            for name, app in APPS.items()
        }
        self._channels: dict[str, DingTalkChannel] = {}

    def start(self, settings: Settings, limits: RateLimits) -> None:
        """Start both sandboxes and build a channel for each."""
        for name, sandbox in self.sandboxes.items():
            sandbox.start()
            configured: DingTalkSettings = getattr(settings, name)
            built = self._settings(name, configured)
            self._channels[name] = DingTalkChannel(name, built, limits=limits)

    def _settings(self, name: str, configured: DingTalkSettings) -> DingTalkSettings:
        app, sandbox = APPS[name], self.sandboxes[name]
        values = configured.model_dump()
        values.update(
            client_id=app.client_id,
            client_secret=SecretStr(app.client_secret),
            robot_code=app.robot_code,
            corp_id=app.corp_id,
            api_base=sandbox.base_url,
            oapi_base=sandbox.base_url,
            card_template_id=TEMPLATE,
        )
        return DingTalkSettings.model_validate(values)

    def stop(self) -> None:
        """Stop both sandboxes."""
        for sandbox in self.sandboxes.values():
            sandbox.stop()

    def channels(self) -> dict[str, Channel]:
        """The two real DingTalk channels."""
        return dict(self._channels)

    def channel(self, name: str) -> DingTalkChannel:
        """One of the channels, typed."""
        return self._channels[name]

    def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """A member of that app's sandbox org; the seat's address is their userId."""
        user_id = f"staff{account_id}"
        self.sandboxes[channel].add_user(user_id, name=display_name)
        return Seat(
            channel=channel, account_id=account_id, display_name=display_name, address=user_id
        )

    async def click(
        self, seat: Seat, delivery_id: str, action: ClickAction, comment: str | None = None
    ) -> ClickOutcome:
        """Press Approve/Reject on the seat's card, with the params that card carries."""
        sandbox = self.sandboxes[seat.channel]
        track_id = out_track_id(delivery_id)
        card = sandbox.card(seat.address, track_id)
        params = click_params(card.params, action, comment)
        result = await sandbox.click(
            seat.address, track_id, params, action_id=f"{action.value}_button"
        )
        return ClickOutcome(
            toast=result.error or result.card.private_params.get("notice", ""),
            card_state=result.card.params.get("state", ""),
            failed=result.error is not None,
        )

    def card_state(self, seat: Seat, delivery_id: str) -> str | None:
        """The ``state`` param of the seat's card, as the sandbox holds it now."""
        try:
            card = self.sandboxes[seat.channel].card(seat.address, out_track_id(delivery_id))
        except KeyError:
            return None
        return card.params.get("state")

    def held(self, seat: Seat) -> list[HeldCard]:
        """The seat's cards, newest first, as that user sees them (private data on top)."""
        cards = self.sandboxes[seat.channel].cards(seat.address)
        return [
            HeldCard(
                channel=seat.channel,
                look="dingtalk",
                delivery_id=delivery_of(card.out_track_id) or "",
                payload={**card.params, **card.private_params},
            )
            for card in reversed(cards)
        ]


def click_params(
    card: dict[str, str], action: ClickAction, comment: str | None = None
) -> dict[str, str]:
    """The callback params a button of ``card`` submits (the template's onClick params)."""
    names = {ClickAction.APPROVE: "approveAction", ClickAction.REJECT: "rejectAction"}
    value = card.get(names[action], action.value) if action in names else action.value
    params = {"action": value, "ref": card.get("actionRef", "")}
    if comment is not None:
        params["comment"] = comment
    return params
