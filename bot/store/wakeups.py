"""Wake-ups in process: what an engine's ``wait_for_work`` and ``wait_for_consents`` wait on
(``bot.store.engine.EngineStore``). Both engines build on it; it imports neither."""

from __future__ import annotations

import asyncio


class InProcessWork:
    """``wait_for_work`` woken in process by :meth:`work_enqueued`: all an engine only one
    process writes to (SQLite) needs, where the service already wakes its worker directly; the
    PostgreSQL engine calls :meth:`work_enqueued` on every NOTIFY from any replica."""

    shared = False

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._kinds: set[str] = set()  # heard since the last wake-up ("": any kind)
        self._consents = asyncio.Event()  # set by an engine that hears other processes

    def work_enqueued(self, kind: str = "") -> None:
        """Wake the waiter, for work of ``kind``."""
        self._kinds.add(kind)
        self._event.set()

    async def wait_for_work(self, seconds: float) -> tuple[str, ...] | None:
        """The kinds heard of when woken within ``seconds`` (empty: any), else None."""
        if not await _woken(self._event, seconds):
            return None
        kinds, self._kinds = self._kinds, set()
        return () if "" in kinds else tuple(sorted(kinds))

    async def wait_for_consents(self, seconds: float) -> bool:
        """True when another process's consent change was heard within ``seconds``."""
        return await _woken(self._consents, seconds)

    def listener_problem(self) -> str | None:
        """Nothing to hear from other processes: never a problem."""
        return None


async def _woken(event: asyncio.Event, seconds: float) -> bool:
    # Not asyncio.wait_for: on Python 3.11 it returns the result instead of raising when the
    # waiting task is cancelled just as the event is set (the wait's own task finished first),
    # and the loops that wait here (runtime.relay_work, follow_consents) then never end; on
    # PostgreSQL a NOTIFY at the moment of the stop's cancel did exactly that.
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    event.clear()
    return True
