"""Input checks shared by the API and the CLI, so every engine stores only what passed them.

Each check raises ``InvalidInput`` naming the offending field, which the edges translate (HTTP
422, a CLI usage error).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from bot.core.intake import in_utc_range
from bot.core.timing.quiet import zone
from bot.errors import InvalidInput

# The channels a binding or a channel order may name (kept equal to the channel registry's
# names by tests/channels/test_registry.py).
KNOWN_CHANNELS = ("dingtalk", "dingtalk_enterprise", "lark", "email", "memory")
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")  # as the backend names approvers
# Deliberately loose: one @, a dotted domain, no spaces or list/quoting characters. Whether the
# mailbox exists is for the mail server (and verification) to say.
EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
CHAT_ID = re.compile(r"^[A-Za-z0-9._:@+$=-]{1,256}$")
MAX_PAGE = 500  # the largest page of bindings or audit records one call returns
# What is metered: per delivered message, and per paid urgency (charged by the platform).
USAGE_KINDS = ("sent", "updated", "urgent_sms", "urgent_phone")


def check_binding(account_id: str, channel: str, address: str) -> str:
    """The address normalised for storage; InvalidInput naming the bad field otherwise."""
    problems: dict[str, str] = {}
    if not ACCOUNT_ID.match(account_id):
        problems["account_id"] = "must be 1-128 of letters, digits and ._:@/-"
    if channel not in KNOWN_CHANNELS:
        problems["channel"] = f"unknown channel; known: {', '.join(KNOWN_CHANNELS)}"
    address = address.strip()
    if channel == "email":
        if len(address) > 254 or not EMAIL.match(address):
            problems["address"] = "not an email address"
        # Domains are case-insensitive; the local part is left as given.
        local, _, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
    elif not CHAT_ID.match(address):
        problems["address"] = "must be 1-256 characters without spaces"
    if problems:
        raise InvalidInput("invalid binding", problems)
    return address


def check_order(order: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A channel order of known channels, each once; InvalidInput otherwise."""
    names = tuple(name.strip() for name in order if name.strip())
    unknown = [name for name in names if name not in KNOWN_CHANNELS]
    problem = ""
    if unknown:
        problem = f"unknown {', '.join(unknown)}; known: {', '.join(KNOWN_CHANNELS)}"
    elif len(set(names)) != len(names):
        problem = "a channel appears twice"
    if problem:
        raise InvalidInput(f"invalid channel order: {problem}", {"channel_order": problem})
    return names


def check_time_zone(name: str) -> str:
    """An IANA time zone name (``""``: none, the zone of each card's locale); InvalidInput
    otherwise."""
    name = name.strip()
    if not name:
        return ""
    try:
        return zone(name).key
    except ValueError as exc:
        raise InvalidInput(f"invalid time zone: {exc}", {"time_zone": str(exc)}) from None


def check_account(account_id: str) -> str:
    """The account id as the backend names approvers; InvalidInput otherwise."""
    if not ACCOUNT_ID.match(account_id):
        raise InvalidInput(
            "invalid account", {"account_id": "must be 1-128 of letters, digits and ._:@/-"}
        )
    return account_id


def month_start(today: date) -> date:
    """The first day of ``today``'s month (the default start of a usage report)."""
    return today.replace(day=1)


def parse_day(value: str | None, default: date, field: str) -> date:
    """``YYYY-MM-DD``, or ``default`` when not given; InvalidInput naming ``field`` otherwise."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("invalid date", {field: "expected YYYY-MM-DD"}) from None


def parse_bound(value: str | None, name: str, *, end: bool) -> datetime | None:
    """An ISO date or time (UTC unless it says otherwise); a bare date ``to`` covers that day."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.max if end else time.min, UTC)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is not an ISO date or time", {name: "not ISO 8601"}) from None
    try:
        return in_utc_range(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except ValueError as exc:
        raise InvalidInput(f"{name} is out of range", {name: str(exc)}) from None
