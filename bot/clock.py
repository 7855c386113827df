"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time, aware and in UTC."""

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)
