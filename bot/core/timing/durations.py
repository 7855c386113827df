"""ISO 8601 durations as the intake contract writes them (``PT30M``, ``P1DT2H``, ``P2W``).

Years and months are refused: their length depends on the calendar, and a reminder "after one
month" has no single instant. Numbers of seconds are refused too, so ``1800`` is never read as
minutes by one client and seconds by another.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

LONGEST = timedelta(days=3650)
_ISO = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_UNIT = {"weeks": 604800.0, "days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}
_HINT = "must be an ISO 8601 duration such as PT30M, PT2H or P1DT12H (no years or months)"


def parse_duration(text: str) -> timedelta:
    """The positive duration ``text`` names; ValueError says what is wrong."""
    match = _ISO.fullmatch(text.strip().upper())
    if match is None:
        raise ValueError(_HINT)
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    if sum(value * _UNIT[name] for name, value in parts.items()) > LONGEST.total_seconds():
        raise ValueError("must be at most 3650 days")
    value = timedelta(**parts)
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


def format_duration(value: timedelta) -> str:
    """``value`` in the form ``parse_duration`` reads (``P1DT2H30M``), so stored requests re-read."""
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    exact = f"{seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    time = "".join(
        f"{amount}{unit}"
        for amount, unit in ((hours, "H"), (minutes, "M"), (exact, "S"))
        if amount not in (0, "0")
    )
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _read(value: Any) -> Any:
    if isinstance(value, timedelta):  # built in Python (tests, the settings' own defaults)
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value
    if not isinstance(value, str):
        raise ValueError(_HINT)
    return parse_duration(value)


Duration = Annotated[
    timedelta, BeforeValidator(_read), PlainSerializer(format_duration, return_type=str)
]
