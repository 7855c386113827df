"""Reads that are asked for together, answered together: the keys asked for while one read is
running are read in the next one, by one call of the loader (one read snapshot for them all).

The outbox jobs one claim starts ask for what they work on in the same moment: a card job its
card (:mod:`bot.core.card_loads`), a forward its decision. Each in a snapshot of its own waited
for a connection once per job, in the same first-come first-served queue as the clicks; here
the jobs that start together wait once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    """Coalesces the reads that arrive while one is running into the next one.

    ``load`` takes the keys of a batch, in the order they were asked for, and returns one value
    per key in that order; what it raises is raised to every caller of the batch.
    """

    def __init__(self, load: Callable[[list[K]], Awaitable[Sequence[V]]], name: str) -> None:
        self._load = load
        self._name = name
        self._queued: list[tuple[K, asyncio.Future[V]]] = []
        self._reading: asyncio.Task[None] | None = None

    async def read(self, key: K) -> V:
        """The value of ``key``, read with the other keys asked for meanwhile."""
        found: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._queued.append((key, found))
        if self._reading is None:
            # Started after this loop turn's other jobs have queued their reads too.
            self._reading = asyncio.create_task(self._read(), name=self._name)
        return await asyncio.shield(found)

    async def _read(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    values = await self._load([key for key, _ in batch])
                except BaseException as exc:
                    for _, found in batch:
                        found.set_exception(exc)
                        found.exception()  # retrieved: a cancelled job's waiter is gone
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for (_, found), value in zip(batch, values, strict=True):
                        found.set_result(value)
        finally:
            self._reading = None
