"""Conversions between stored text and domain values."""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(value: datetime) -> str:
    """A sortable, fixed-width UTC timestamp."""
    return value.astimezone(UTC).strftime(_FORMAT)


def parse_ts(value: str) -> datetime:
    """The aware datetime written by :func:`ts`."""
    return datetime.strptime(value, _FORMAT).replace(tzinfo=UTC)


def opt_ts(value: str | None) -> datetime | None:
    """:func:`parse_ts` that passes None through."""
    return parse_ts(value) if value is not None else None
