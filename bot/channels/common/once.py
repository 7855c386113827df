"""Handling a platform's event once per id: a redelivery waits for, and gets, the first answer.

Both platforms push an event again when its ACK did not arrive in time (DingTalk re-pushes EVENT
frames, Lark redelivers events and hands every part of a multi-part event over again), so each
inbound module keys its clicks and messages by the platform's event id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

SEEN_TTL = 600.0
T = TypeVar("T")


class Once(Generic[T]):
    """Runs a coroutine once per key (for ``ttl`` seconds); repeats share the first result."""

    def __init__(self, ttl: float = SEEN_TTL) -> None:
        self._ttl = ttl
        self._seen: dict[str, tuple[float, asyncio.Future[T]]] = {}

    def seen(self, key: str) -> bool:
        """Whether ``key`` was handled (or is being handled) within the TTL."""
        self._purge()
        return key in self._seen

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """The answer for ``key``, computing it only the first time."""
        self._purge()
        entry = self._seen.get(key)
        if entry is None:
            future = asyncio.ensure_future(work())
            entry = (time.monotonic() + self._ttl, future)
            self._seen[key] = entry
            # A failure is not remembered: the platform's retry must get a fresh try.
            future.add_done_callback(lambda f: self._forget_failed(key, f))
        return await asyncio.shield(entry[1])

    def _forget_failed(self, key: str, future: asyncio.Future[T]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._seen.pop(key, None)

    def _purge(self) -> None:
        now = time.monotonic()
        for key in [k for k, (until, _) in self._seen.items() if until < now]:
            del self._seen[key]
