"""Writes that finish together, committed together: one unit of work for the results of the
outbox jobs that complete in the same moment instead of one each.

The updates of one decision's cards are claimed together and come back from their platforms
together; recording each card's new state, its history line and its usage meter in a write of
its own cost a transaction per card on the gateway's loop. Here the writes that arrive while
one commit is running go in the next one. Each caller returns only once its write committed
(or raises what the commit raised), so what a job records is recorded before the job is marked
done, as when it wrote alone; a failed commit fails every job whose write it carried, and each
is retried, writing nothing twice: nothing of theirs committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.core.ports import Store, UnitOfWork

Write = Callable[[UnitOfWork], Awaitable[None]]


class BatchedWrites:
    """Coalesces the writes that arrive while a commit is running into the next unit of work."""

    def __init__(self, store: Store, name: str, *, urgent: bool = False) -> None:
        self._store = store
        self._name = name
        self._urgent = urgent  # its units are urgent store work (bot.core.ports.Store)
        self._queued: list[tuple[Write, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, step: Write) -> None:
        """Run ``step`` in a unit of work shared with the writes queued meanwhile; return once
        it committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((step, done))
        if self._flushing is None:
            # Started after this loop turn's other jobs have queued their writes too.
            self._flushing = asyncio.create_task(self._flush(), name=self._name)
        await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    async with self._store.unit(urgent=self._urgent) as uow:
                        for step, _ in batch:
                            await step(uow)
                except BaseException as exc:
                    for _, done in batch:
                        done.set_exception(exc)
                        done.exception()  # retrieved: a cancelled job's waiter is gone
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for _, done in batch:
                        done.set_result(None)
        finally:
            self._flushing = None
