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

from collections.abc import Awaitable, Callable

from bot.core.batched_reads import BatchedReads
from bot.core.ports import Store, UnitOfWork

Write = Callable[[UnitOfWork], Awaitable[None]]


class BatchedWrites:
    """Coalesces the writes that arrive while a commit is running into the next unit of work."""

    def __init__(self, store: Store, name: str, *, urgent: bool = False) -> None:
        self._store = store
        self._urgent = urgent  # its units are urgent store work (bot.core.ports.Store)
        # The coalescing is BatchedReads': a batch of steps is "read" by committing them, and
        # what the commit raises is raised to every step's caller.
        self._commits: BatchedReads[Write, None] = BatchedReads(self._commit, name)

    async def write(self, step: Write) -> None:
        """Run ``step`` in a unit of work shared with the writes queued meanwhile; return once
        it committed."""
        await self._commits.read(step)

    async def _commit(self, steps: list[Write]) -> list[None]:
        async with self._store.unit(urgent=self._urgent) as uow:
            for step in steps:
                await step(uow)
        return [None] * len(steps)
