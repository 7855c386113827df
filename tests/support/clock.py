"""The one controllable clock of the tests: move it, never sleep for a timer.

It is the core's ``Clock`` port (``now()``: aware UTC) and, called, the Unix seconds the rate
limits take (``LocalLimits(now=clock)``): both read the same moment. It moves only forward and
only when the test says so (:meth:`MovableClock.advance`), or when a virtual timer wakes a sleeper
(:meth:`MovableClock.advance_to`).

Built with a start it stands still until moved (core and store tests, paced callers). Built
without one it follows the wall clock plus what the test moved it on: a running gateway's
sockets, SDKs and platform tokens read the wall clock too, so its time must not drift from it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class MovableClock:
    """A clock the test moves forward: fixed from ``start``, or the wall clock plus an offset."""

    def __init__(self, start: datetime | float | None = None) -> None:
        self._wall = start is None
        if isinstance(start, datetime):
            self._seconds = start.timestamp()
        else:
            self._seconds = 0.0 if start is None else float(start)

    def now(self) -> datetime:
        """The current time, aware and in UTC."""
        if self._wall:
            return datetime.now(UTC) + timedelta(seconds=self._seconds)
        return datetime.fromtimestamp(self._seconds, UTC)

    def __call__(self) -> float:
        """The current time in Unix seconds."""
        return self._seconds + (time.time() if self._wall else 0.0)

    def advance(self, by: float | timedelta) -> None:
        """Move on by ``by`` (seconds or a timedelta); never back."""
        seconds = by.total_seconds() if isinstance(by, timedelta) else float(by)
        if seconds < 0:
            raise ValueError("a test clock only moves forward")
        self._seconds += seconds

    def advance_to(self, seconds: float) -> None:
        """Move on to the Unix time ``seconds``, if that is later than now."""
        self._seconds += max(0.0, seconds - self())
