"""A click's answer on its way back to the platform, and what the gateway is told about it.

Both stream SDKs run on their own thread and loop, while clicks are decided on the gateway's
loop. The SDK side waits for the decision at most what is left of the platform's budget,
counted from the frame's arrival, and answers "processing" when it is not ready. Card
callbacks are never pushed again by either platform (DingTalk re-pushes only EVENT frames,
open-dingtalk developerpedia ``docs/learn/stream/protocol.md`` and its FAQ on ACKs; Lark
shows the clicker an error, callback overview on open.larkoffice.com), so whatever happens
the frame is answered, and the gateway is told afterwards whether the clicker's card shows
the outcome (:meth:`bot.core.ports.InboundSink.answered`); when it does not, the outbox
redraws it through the card API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.core.models import ActionResult
from bot.core.ports import InboundSink
from bot.logs import kv

log = logging.getLogger("bot.channels")

Response = dict[str, Any]
# When the frame being handled arrived (time.monotonic()), set by the stream client per frame.
ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("frame_arrived")


@dataclass(frozen=True)
class ClickAnswer:
    """What a click is answered with, and the domain's result behind it."""

    response: Response
    result: ActionResult | None = None
    carries_card: bool = False  # the response redraws the clicker's own card


def remaining(budget: float) -> float:
    """What is left of ``budget`` for the frame being handled (from its arrival)."""
    arrived = ARRIVED.get(None)
    spent = time.monotonic() - arrived if arrived is not None else 0.0
    return max(0.0, budget - spent)


async def within(future: concurrent.futures.Future[Any], seconds: float) -> bool:
    """Wait (without blocking this loop) until ``future`` is done or ``seconds`` passed."""
    waited = asyncio.wrap_future(future)
    waited.add_done_callback(_retrieve)
    done, _ = await asyncio.wait({waited}, timeout=seconds)
    return bool(done)


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Mark a late failure as seen: it was logged where it happened.
    if not future.cancelled():
        future.exception()


class Reports:
    """Reports to the sink, scheduled from any thread onto the gateway's loop and kept until done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[None]] = set()

    def send(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: InboundSink,
        result: ActionResult | None,
        *,
        redrawn: bool,
        how: str = "",
    ) -> None:
        """Tell the sink what became of a click's answer (nothing for an undecided click)."""
        if result is None:
            return
        self.run(loop, sink.answered(result, redrawn=redrawn, how=how))

    def run(self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on ``loop``; a failure is logged, never lost silently."""
        try:
            future = asyncio.run_coroutine_threadsafe(work, loop)
        except RuntimeError:  # the gateway's loop is gone: the outbox's backstop redraws
            work.close()
            return
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "click answer report failed",
                exc_info=future.exception(),
                extra=kv(why=type(future.exception()).__name__),
            )

    async def drain(self, seconds: float = 5.0) -> None:
        """Wait (bounded) for reports still running, e.g. before the store closes."""
        with self._lock:
            pending = [asyncio.wrap_future(f) for f in self._pending]
        if pending:
            await asyncio.wait(pending, timeout=seconds)


class Join:
    """Calls back once both the ACK was written and the late decision is ready (any order)."""

    def __init__(self, callback: Callable[[ClickAnswer, bool], None]) -> None:
        self._lock = threading.Lock()
        self._callback: Callable[[ClickAnswer, bool], None] | None = callback
        self._acked: bool | None = None
        self._answer: ClickAnswer | None = None

    def acked(self, written: bool) -> None:
        """The SDK wrote the ACK (or could not)."""
        with self._lock:
            self._acked = written
        self._fire()

    def answered(self, answer: ClickAnswer) -> None:
        """The decision is ready."""
        with self._lock:
            self._answer = answer
        self._fire()

    def _fire(self) -> None:
        with self._lock:
            if self._acked is None or self._answer is None or self._callback is None:
                return
            callback, self._callback = self._callback, None
            answer, acked = self._answer, self._acked
        callback(answer, acked)
