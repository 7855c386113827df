"""Applies the routing rules to the channels this deployment runs and the stored bindings."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.core.models import Approver, ChannelName
from bot.core.ports import Channel, Tx
from bot.core.routing import CHINA_REGIONS, ChannelOffer, RoutePlan, plan_route


class Router:
    """Plans deliveries over the running channels, in the deployment's preference order."""

    def __init__(
        self,
        channels: Mapping[ChannelName, Channel],
        order: Sequence[ChannelName],
        china_regions: Collection[str] = CHINA_REGIONS,
    ) -> None:
        self._channels = channels
        self._order = [name for name in order if name in channels]
        self._order += [name for name in channels if name not in self._order]
        self._china_regions = china_regions

    def offers(self) -> list[ChannelOffer]:
        """The running channels as routing sees them, in preference order."""
        return [
            ChannelOffer(
                name=name,
                kind=self._channels[name].kind,
                china_only=getattr(self._channels[name], "china_only", False),
            )
            for name in self._order
        ]

    async def plan(
        self, tx: Tx, approver: Approver, exclude: Collection[ChannelName] = ()
    ) -> RoutePlan:
        """Where to send this approver's card, and the fallbacks (``exclude``: already failed)."""
        addresses: dict[ChannelName, str | None] = {}
        for name in self._order:
            bound = await tx.binding_address(approver.account_id, name)
            addresses[name] = bound or self._channels[name].default_address(approver)
        offers = [o for o in self.offers() if o.name not in exclude]
        return plan_route(approver, offers, addresses, self._china_regions)
