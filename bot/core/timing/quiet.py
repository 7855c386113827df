"""Quiet hours: a nightly window, read in each approver's own time zone, when nudges wait.

Only reminders and urgency wait; cards, votes and decisions never do. The window may span
midnight (22:00-08:00). Times are wall-clock times of the approver's zone, so across a DST change
the window is an hour shorter or longer in UTC, and an end time the change skips (02:30 on a
spring-forward night) means the moment the clocks jump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A zone for each locale, when the account has none of its own.
DEFAULT_ZONES: Mapping[str, str] = {"zh-CN": "Asia/Shanghai", "en-US": "UTC"}
_WINDOW = re.compile(r"(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})")


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name like Asia/Shanghai)") from None


def zone_for(own: str | None, locale: str, defaults: Mapping[str, str] = DEFAULT_ZONES) -> ZoneInfo:
    """The account's own zone, else its locale's, else UTC."""
    return zone(own or defaults.get(locale, "UTC"))


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` (wall-clock, the approver's zone) nudges are held back."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``"22:00-08:00"``; ValueError for anything else, or an empty window."""
        match = _WINDOW.fullmatch(text.strip())
        if match is None:
            raise ValueError("must be HH:MM-HH:MM, e.g. 22:00-08:00")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("hours are 00-23 and minutes 00-59")
        if (h1, m1) == (h2, m2):
            raise ValueError("start and end must differ")
        return cls(time(h1, m1), time(h2, m2))

    def covers(self, wall: time) -> bool:
        """Whether the wall-clock time ``wall`` lies in the window (start included, end not)."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end  # the window spans midnight

    def release(self, at: datetime, where: ZoneInfo) -> datetime:
        """``at`` when it is outside the window in ``where``, else the instant the window ends."""
        local = at.astimezone(where)
        wall = local.time()
        if not self.covers(wall):
            return at
        day = local.date()
        if self.start > self.end and wall >= self.start:
            day += timedelta(days=1)  # the evening part: the window ends tomorrow morning
        return first_at(day, self.end, where)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def first_at(day: date, wall: time, where: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clocks of ``where`` show ``wall`` or later on ``day``."""
    naive = datetime.combine(day, wall)
    early = naive.replace(tzinfo=where, fold=0).astimezone(UTC)
    late = naive.replace(tzinfo=where, fold=1).astimezone(UTC)
    if early <= late:
        return early  # an ordinary time, or one shown twice (fall back): its first showing
    # The clocks skip it (spring forward): the window ends when they jump, between the two.
    return _jump(late, early, where)


def _jump(before: datetime, after: datetime, where: ZoneInfo) -> datetime:
    target = after.astimezone(where).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(where).utcoffset() == target:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)
