"""``approval-gateway serve`` with one part that will not stop, for the stop-bound tests.

``python -m tests.faults.stuck_serve MODE serve``: the memory channel's ``stop`` never returns.
``MODE`` is ``ignores-cancel`` (it swallows every cancellation, as a reconnect loop that catches
too much would) or ``blocks-loop`` (it sleeps on the event loop's thread, as a blocking call in
a coroutine would). The rest is the real ``serve``.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bot.channels.memory import MemoryChannel
from bot.cli import main

STUCK_FOR = 3600.0


async def ignores_cancel(self: MemoryChannel) -> None:
    """A stop that waits forever and swallows every cancellation."""
    while True:
        try:
            await asyncio.sleep(STUCK_FOR)
        except asyncio.CancelledError:
            continue


async def blocks_loop(self: MemoryChannel) -> None:
    """A stop that blocks the event loop's thread."""
    time.sleep(STUCK_FOR)  # noqa: ASYNC251 (the fault under test)


MODES = {"ignores-cancel": ignores_cancel, "blocks-loop": blocks_loop}

if __name__ == "__main__":
    MemoryChannel.stop = MODES[sys.argv[1]]  # type: ignore[method-assign]
    sys.exit(main(sys.argv[2:]))
