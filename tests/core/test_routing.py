"""Routing rules as a table: account type × region × bound channels × authorized channels.

The readable table spells out the interesting rows; the exhaustive test then checks every
combination against the rules as issue 5 states them, written independently of ``plan_route``.
"""

from __future__ import annotations

from itertools import chain, combinations, product
from typing import Any, cast

import pytest

from bot.core.intake import AccountType, Approver
from bot.core.ports import ChannelCapabilities
from bot.core.route_planner import Router
from bot.core.routing import ChannelOffer, RoutePreference, plan_route

CHAT = ("dingtalk", "dingtalk_enterprise", "lark")
ALL = (*CHAT, "email")
CN, INTL = "cn-hangzhou", "ap-southeast-1"
MAIN, RAM, ROLE = AccountType.MAIN, AccountType.RAM, AccountType.ROLE


def _offers(authorized: set[str], order: tuple[str, ...] = ALL) -> list[ChannelOffer]:
    return [
        ChannelOffer(
            name=name,
            kind="email" if name == "email" else "chat",
            china_only=name.startswith("dingtalk"),
            authorized=name in authorized,
        )
        for name in order
    ]


def _plan(
    account_type: AccountType,
    region: str,
    bound: set[str],
    authorized: set[str],
    order: tuple[str, ...] = ALL,
) -> tuple[list[str], str | None]:
    person = Approver(account_id="a1", display_name="A", account_type=account_type, region=region)
    addresses = {name: (f"{name}-id" if name in bound else None) for name in ALL}
    plan = plan_route(person, _offers(authorized, order), addresses)
    assert all(c.address == f"{c.channel}-id" for c in plan.choices)
    return [c.channel for c in plan.choices], plan.unreachable_reason


DT, DTE, LARK, MAIL = "dingtalk", "dingtalk_enterprise", "lark", "email"
EVERY = set(ALL)

# account, region, bound, authorized, expected channels in order, reason fragment if none
TABLE: list[tuple[AccountType, str, set[str], set[str], list[str], str | None]] = [
    # chat serves every account type, in the deployment's order
    (MAIN, CN, EVERY, EVERY, [DT, DTE, LARK, MAIL], None),
    (RAM, CN, EVERY, EVERY, [DT, DTE, LARK], None),
    (ROLE, CN, EVERY, EVERY, [DT, DTE, LARK, MAIL], None),
    # DingTalk (both kinds) is China-only
    (MAIN, INTL, EVERY, EVERY, [LARK, MAIL], None),
    (RAM, INTL, EVERY, EVERY, [LARK], None),
    (RAM, INTL, {DT, DTE}, EVERY, [], "not offered outside China"),
    (ROLE, INTL, {DT, MAIL}, EVERY, [MAIL], None),
    # only bound channels count
    (MAIN, CN, {LARK}, EVERY, [LARK], None),
    (RAM, CN, set(), EVERY, [], "no lark identity bound"),
    (ROLE, CN, set(), EVERY, [], "no email identity bound"),
    # only authorized channels count
    (MAIN, CN, EVERY, {LARK}, [LARK], None),
    (MAIN, CN, {DT}, {LARK, MAIL}, [], "dingtalk is not authorized"),
    (ROLE, CN, EVERY, set(), [], "email is not authorized"),
    # email: main and role only, and never ahead of a usable chat channel
    (MAIN, CN, {MAIL}, EVERY, [MAIL], None),
    (ROLE, INTL, {MAIL}, EVERY, [MAIL], None),
    (RAM, CN, {MAIL}, EVERY, [], "email does not serve RAM users"),
    (RAM, INTL, {MAIL, LARK}, {MAIL}, [], "email does not serve RAM users"),
    (ROLE, CN, {LARK, MAIL}, EVERY, [LARK, MAIL], None),
]


@pytest.mark.parametrize(
    ("account", "region", "bound", "authorized", "expected", "reason"),
    TABLE,
    ids=[f"{r[0]}-{r[1]}-bound:{'+'.join(sorted(r[2]))}-auth:{len(r[3])}" for r in TABLE],
)
def test_route_table(
    account: AccountType,
    region: str,
    bound: set[str],
    authorized: set[str],
    expected: list[str],
    reason: str | None,
) -> None:
    channels, why = _plan(account, region, bound, authorized)
    assert channels == expected
    if reason is None:
        assert why is None
    else:
        assert why is not None and reason in why


def test_email_never_preferred_over_a_usable_chat_channel() -> None:
    assert _plan(ROLE, CN, EVERY, EVERY, order=(MAIL, LARK, DT, DTE))[0] == [LARK, DT, DTE, MAIL]


def test_no_channel_configured() -> None:
    person = Approver(account_id="a1", display_name="A", account_type=MAIN, region="cn")
    assert plan_route(person, [], {}).unreachable_reason == "no channel configured"


@pytest.mark.parametrize("region", ["cn", "cn-shanghai", "cn-qingdao"])
def test_mainland_regions_get_dingtalk(region: str) -> None:
    assert _plan(RAM, region, {DT}, EVERY)[0] == [DT]


def test_configured_china_regions() -> None:
    person = Approver(account_id="a1", display_name="A", account_type=RAM, region="xx-home")
    plan = plan_route(person, _offers(EVERY), {DT: "d"}, china_regions={"xx-home"})
    assert [c.channel for c in plan.choices] == [DT]


def test_hong_kong_is_not_mainland_china() -> None:
    assert _plan(RAM, "cn-hongkong", {DT, LARK}, EVERY)[0] == [LARK]


def test_the_setting_alone_decides_what_counts_as_china() -> None:
    # No prefix rule behind the setting: a region left out of the list is not China.
    person = Approver(account_id="a1", display_name="A", account_type=RAM, region="cn-shanghai")
    plan = plan_route(person, _offers(EVERY), {DT: "d", LARK: "l"}, china_regions={"cn"})
    assert [c.channel for c in plan.choices] == [LARK]


def test_the_default_china_regions_are_the_mainland_ones() -> None:
    from bot.settings.config import load_settings

    regions = load_settings(None).china_regions
    for mainland in ("cn", "cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen"):
        assert mainland in regions
    assert "cn-hongkong" not in regions


# --------------------------------------------------------------------------- every combination


def _subsets(items: tuple[str, ...]) -> list[frozenset[str]]:
    return [frozenset(c) for c in chain.from_iterable(combinations(items, n) for n in range(5))]


def _expected(
    account: AccountType, region: str, bound: frozenset[str], auth: frozenset[str]
) -> list[str]:
    """The rules of issue 5, stated directly."""

    def serves(name: str) -> bool:
        if name == MAIL:
            return account in (MAIN, ROLE)
        return region == CN or not name.startswith("dingtalk")

    usable = [n for n in ALL if n in auth and n in bound and serves(n)]
    return [n for n in usable if n != MAIL] + [n for n in usable if n == MAIL]


COMBINATIONS = list(product(AccountType, (CN, INTL), _subsets(ALL), _subsets(ALL)))


@pytest.mark.parametrize(("account", "region", "bound", "authorized"), COMBINATIONS)
def test_every_combination(
    account: AccountType, region: str, bound: frozenset[str], authorized: frozenset[str]
) -> None:
    channels, why = _plan(account, region, set(bound), set(authorized))
    assert channels == _expected(account, region, bound, authorized)
    assert (why is None) == bool(channels)
    if why is not None:
        assert why.strip()  # an unreachable delivery always says why


# -- preferences: email subscription and the account's own channel order ---------------------


def _opted(
    account_type: AccountType, bound: set[str], email_enabled: bool
) -> tuple[list[str], str | None]:
    person = Approver(account_id="a1", display_name="A", account_type=account_type, region=CN)
    addresses = {name: (f"{name}-id" if name in bound else None) for name in ALL}
    plan = plan_route(person, _offers(EVERY), addresses, email_enabled=email_enabled)
    return [c.channel for c in plan.choices], plan.unreachable_reason


@pytest.mark.parametrize(
    ("account_type", "bound", "email_enabled", "expected", "reason"),
    [
        (ROLE, {MAIL}, True, [MAIL], None),
        (ROLE, {MAIL}, False, [], "unsubscribed"),  # opted out, no chat: said so, not dropped
        (ROLE, set(), False, [], "unsubscribed"),
        (MAIN, {LARK, MAIL}, False, [LARK], None),  # chat still reaches; email is no fallback
        (MAIN, {LARK, MAIL}, True, [LARK, MAIL], None),
        (RAM, {MAIL}, False, [], "email does not serve RAM users"),  # never had email anyway
    ],
)
def test_email_subscription(
    account_type: AccountType,
    bound: set[str],
    email_enabled: bool,
    expected: list[str],
    reason: str | None,
) -> None:
    channels, why = _opted(account_type, bound, email_enabled)
    assert channels == expected
    if reason is None:
        assert why is None
    else:
        assert why is not None and reason in why
        assert why.startswith("unsubscribed") == (reason == "unsubscribed")


class _Tx:
    """Just what the Router reads: bindings and the account's preference."""

    def __init__(self, bound: dict[str, str], preference: RoutePreference) -> None:
        self.bound, self.preference = bound, preference

    async def binding_address(self, account_id: str, channel: str) -> str | None:
        return self.bound.get(channel)

    async def route_preference(self, account_id: str) -> RoutePreference:
        return self.preference

    async def route_facts(self, account_id: str) -> tuple[RoutePreference, dict[str, str]]:
        return self.preference, dict(self.bound)


class _Chan:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.capabilities = ChannelCapabilities()

    def default_address(self, approver: Approver) -> str | None:
        return None


async def _router_plan(preference: RoutePreference) -> list[str]:
    channels: dict[str, Any] = {n: _Chan("email" if n == MAIL else "chat") for n in (*CHAT, MAIL)}
    router = Router(channels, [DT, DTE, LARK, MAIL])
    tx = _Tx({DT: "u1", LARK: "ou_1", MAIL: "a@x.example"}, preference)
    person = Approver(account_id="a1", display_name="A", account_type=MAIN, region=CN)
    plan = await router.plan(cast(Any, tx), person)
    return [c.channel for c in plan.choices]


async def test_router_follows_the_accounts_own_order() -> None:
    assert await _router_plan(RoutePreference()) == [DT, LARK, MAIL]
    assert await _router_plan(RoutePreference(channel_order=(LARK,))) == [LARK, DT, MAIL]
    # Email named first still comes after every usable chat channel.
    assert await _router_plan(RoutePreference(channel_order=(MAIL, LARK))) == [LARK, DT, MAIL]
    assert await _router_plan(RoutePreference(email_enabled=False)) == [DT, LARK]
