"""Client-side pacing of platform API calls, shared by the Lark and DingTalk clients."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Spaces calls at most ``rate`` per second; :meth:`pause` holds every caller back."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this call's slot."""
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """The platform throttled us: nobody calls this API again for ``seconds``."""
        self._next = max(self._next, time.monotonic() + seconds)
