"""The gateway's loop as seen from a stream SDK's thread, written once for both platforms.

Both stream SDKs run on their own thread and loop while clicks are decided on the gateway's loop
(:mod:`bot.channels.common.answers` says why the wait is bounded). A frame handler on the SDK's
side hops its work over, waits at most what is left of the platform's budget, and once the ACK
was written (or could not be) tells the sink whether the clicker's card shows the outcome.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.channels.common.answers import ClickAnswer, Reports, remaining, within
from bot.core.ports import InboundSink
from bot.errors import ChannelError

T = TypeVar("T")


class Bridge:
    """One channel's way from an SDK thread to the gateway's loop and sink, and back."""

    def __init__(self, channel: str, budget: float) -> None:
        self._channel = channel
        self.budget = budget
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sink: InboundSink | None = None
        self.reports = Reports()

    def open(self, sink: InboundSink) -> None:
        """Bind to the running (gateway) loop and the sink; called from the channel's start."""
        self.loop = asyncio.get_running_loop()
        self.sink = sink

    def hop(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``work`` on the gateway's loop, from any thread."""
        if self.loop is None:
            work.close()
            raise ChannelError(f"the {self._channel} channel is not started")
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    async def within_budget(
        self, work: Coroutine[Any, Any, T]
    ) -> tuple[concurrent.futures.Future[T], bool]:
        """Hop ``work`` over and wait (on the SDK's loop) for what is left of the frame's budget.

        Returns the future and whether it finished in time; a late one keeps running.
        """
        future = self.hop(work)
        return future, await within(future, remaining(self.budget))

    def report(self, answer: ClickAnswer, written: bool) -> None:
        """Tell the sink whether the ACK carrying ``answer`` redrew the clicker's card."""
        # The card counts as redrawn only if the ACK carrying it was written in time.
        if self.loop is not None and self.sink is not None:
            redrawn = written and answer.carries_card
            self.reports.send(self.loop, self.sink, answer.result, redrawn=redrawn)

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the gateway's loop, kept until done (see :meth:`drain`)."""
        if self.loop is None:
            work.close()
            return
        self.reports.run(self.loop, work)

    async def drain(self) -> None:
        """Wait (bounded) for reports still running, e.g. before the store closes."""
        await self.reports.drain()
