"""Applies the routing rules to the channels this deployment runs and the stored bindings."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from bot.core.directory import ChannelDirectory
from bot.core.intake import Approver, ChannelName, UrgencyKind
from bot.core.ports import IdentityRepo, Routes
from bot.core.regions import CHINA_REGIONS
from bot.core.routing import ChannelOffer, RoutePlan, plan_route

EMAIL: ChannelName = "email"


class Router:
    """Plans deliveries over the running channels, in the deployment's preference order."""

    def __init__(
        self,
        channels: ChannelDirectory,
        order: Sequence[ChannelName],
        china_regions: Collection[str] = CHINA_REGIONS,
        refusal: Callable[[ChannelName], str | None] = lambda _: None,
    ) -> None:
        self._channels = channels
        self._preference = list(order)
        self._china_regions = china_regions
        self._refusal = refusal  # why a channel may not send now (consent, credential)

    def _order(self, preferred: Sequence[ChannelName] | None = None) -> list[ChannelName]:
        # Computed per call: a channel authorized at run time joins without a restart. An
        # account's own order comes first; channels it did not name keep the deployment's order.
        first = [name for name in preferred or () if name in self._channels]
        order = first + [n for n in self._preference if n in self._channels and n not in first]
        return order + [name for name in self._channels if name not in order]

    def offers(self, preferred: Sequence[ChannelName] | None = None) -> list[ChannelOffer]:
        """The channels as routing sees them, in preference order (unusable ones with why)."""
        offers = []
        for name in self._order(preferred):
            why = self._refusal(name)
            running = self._channels[name]
            offers.append(
                ChannelOffer(
                    name=name,
                    kind=running.kind,
                    china_only=running.capabilities.china_only,
                    authorized=why is None,
                    unusable=why,
                )
            )
        return offers

    async def address(
        self, identities: IdentityRepo, approver: Approver, channel: ChannelName
    ) -> str | None:
        """Where ``approver`` is reached on ``channel`` now: the binding, else the default."""
        bound = await identities.binding_address(approver.account_id, channel)
        running = self._channels.get(channel)
        return bound or (running.default_address(approver) if running else None)

    async def plan(
        self,
        identities: IdentityRepo,
        approver: Approver,
        exclude: Collection[ChannelName] = (),
        routes: Routes | None = None,
    ) -> RoutePlan:
        """Where to send this approver's card, and the fallbacks (``exclude``: already failed);
        read through the unit of work's ``identities``, unless ``routes`` already holds the
        approver's facts."""
        known = routes.facts.get(approver.account_id) if routes else None
        preference, bound = known or await identities.route_facts(approver.account_id)
        addresses: dict[ChannelName, str | None] = {}
        for name in self._order():
            # Known for unusable channels too: a bound approver skipped there is traced.
            running = self._channels.get(name)
            default = running.default_address(approver) if running else None
            addresses[name] = bound.get(name) or default
        offers = [o for o in self.offers(preference.channel_order) if o.name not in exclude]
        return plan_route(
            approver,
            offers,
            addresses,
            self._china_regions,
            email_enabled=preference.email_enabled,
        )

    def urgency(self, channel: ChannelName) -> frozenset[UrgencyKind]:
        """The urgency kinds ``channel`` offers (none when it is not running)."""
        running = self._channels.get(channel)
        return running.capabilities.urgency if running else frozenset()

    async def email_address(self, identities: IdentityRepo, approver: Approver) -> str | None:
        """Where ``approver`` gets email, if routing allows email for them at all."""
        others = [name for name in self._order() if name != EMAIL]
        plan = await self.plan(identities, approver, others)
        return next((c.address for c in plan.choices if c.channel == EMAIL), None)
