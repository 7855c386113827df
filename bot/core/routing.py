"""Which channel reaches an approver: pure rules, table-tested.

| channel kind | main | ram | role | approve from the message |
|--------------|------|-----|------|--------------------------|
| chat         | yes  | yes | yes  | yes                      |
| email        | yes  | no  | yes  | no (console link)        |

China-only channels (DingTalk) are not offered to accounts whose region is outside China. The
first channel in the approver's preference order that is authorized, allowed and bound wins;
the rest stay in order as fallbacks. An account that turned approval email off is never emailed;
with no usable chat channel it is unreachable with the reason ``unsubscribed``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.entity import Entity
from bot.core.intake import AccountType, Approver, ChannelName
from bot.core.regions import CHINA_REGIONS


# The offers, choices and plans are internal values computed per approver on every submission,
# never read from outside: plain frozen dataclasses, which cost a fraction of a validated model.
@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelOffer:
    """What routing needs to know about one configured channel."""

    name: ChannelName
    kind: Literal["chat", "email"]
    china_only: bool = False
    authorized: bool = True
    unusable: str | None = None  # why it may not send now (revoked, consent needed, broken)


class RoutePreference(Entity):
    """One account's own choices: channel order (None: the deployment's) and approval email."""

    channel_order: tuple[ChannelName, ...] | None = None
    email_enabled: bool = True
    time_zone: str | None = None  # IANA name; None: the zone of the ticket's locale


UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteChoice:
    """One usable way to reach the approver."""

    channel: ChannelName
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutePlan:
    """Usable channels in order (first is used), or why there is none."""

    choices: tuple[RouteChoice, ...]
    unreachable_reason: str | None = None
    skipped: tuple[str, ...] = ()  # channels the approver is bound on, passed over before the first


def _in_china(region: str, china_regions: Collection[str]) -> bool:
    # The setting alone decides: no prefix rule, so a listed region can also be taken out.
    return region.strip().lower() in {r.lower() for r in china_regions}


def refusal(offer: ChannelOffer, approver: Approver, china_regions: Collection[str]) -> str | None:
    """Why this channel may not serve this approver, or None when it may."""
    if not offer.authorized:
        return offer.unusable or f"{offer.name} is not authorized"
    if offer.kind == "email" and approver.account_type is AccountType.RAM:
        return "email does not serve RAM users"
    if offer.china_only and not _in_china(approver.region, china_regions):
        return f"{offer.name} is not offered outside China"
    return None


def plan_route(
    approver: Approver,
    offers: Sequence[ChannelOffer],
    addresses: Mapping[ChannelName, str | None],
    china_regions: Collection[str] = CHINA_REGIONS,
    *,
    email_enabled: bool = True,
) -> RoutePlan:
    """Order the usable channels for ``approver``; chat before email whatever the preference."""
    choices: list[RouteChoice] = []
    reasons: list[str] = []
    skipped: list[str] = []
    opted_out = False
    ordered = [o for o in offers if o.kind == "chat"] + [o for o in offers if o.kind == "email"]
    for offer in ordered:
        why_not = refusal(offer, approver, china_regions)
        if why_not is None and offer.kind == "email" and not email_enabled:
            opted_out = True  # said apart below: the account chose this, nothing is broken
            continue
        address = addresses.get(offer.name)
        if not offer.authorized and address and not choices:
            skipped.append(why_not or "")  # bound there, and it would have been chosen
        if why_not is None and not address:
            why_not = f"no {offer.name} identity bound"
        if why_not is None and address:
            choices.append(RouteChoice(channel=offer.name, address=address))
        else:
            reasons.append(why_not or "")
    reason = None if choices else ("; ".join(reasons) or "no channel configured")
    if reason is not None and opted_out:
        reason = f"{UNSUBSCRIBED}: approval email is turned off and no chat channel is usable"
        reason += f" ({'; '.join(reasons)})" if reasons else ""
    return RoutePlan(choices=tuple(choices), unreachable_reason=reason, skipped=tuple(skipped))
