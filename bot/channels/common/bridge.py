"""A stream SDK's thread and the gateway's loop, and a click's answer between them.

Written once for both platforms. Both stream SDKs run on their own thread and loop
(:mod:`bot.channels.common.thread`) while clicks are decided on the gateway's loop. A frame
handler on the SDK's side hops its work over (:class:`Bridge`), waits at most what is left of
the platform's budget, counted from the frame's arrival (:data:`ARRIVED`), and answers
"processing" when the decision is not ready. Card callbacks are never pushed again by either
platform (DingTalk re-pushes only EVENT frames, open-dingtalk developerpedia
``docs/learn/stream/protocol.md`` and its FAQ on ACKs; Lark shows the clicker an error, callback
overview on open.larkoffice.com), so whatever happens the frame is answered, and the gateway is
told afterwards whether the clicker's card shows the outcome
(:meth:`bot.core.ports.InboundSink.answered`, always through :meth:`Bridge.answered`); when it
does not, core's :mod:`bot.core.redraw` has it redrawn through the card API.

Events themselves are pushed again when their ACK did not arrive in time (DingTalk re-pushes
EVENT frames, Lark redelivers events and hands every part of a multi-part event over again), so
each platform's ``inbound`` keys its clicks and messages by the platform's event id
(:class:`Once`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.core.models import ActionResult
from bot.core.ports import InboundSink
from bot.errors import ChannelError
from bot.logs import kv

log = logging.getLogger("bot.channels")
T = TypeVar("T")

Response = dict[str, Any]
AfterAck = Callable[[bool], None]
"""Told, once a frame's ACK was written or could not be, which of the two (True: written)."""
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
    """Reports to the sink (:meth:`Bridge.answered`), scheduled from any thread onto the gateway's loop and kept until done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[None]] = set()

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


# How long an event id is remembered: longer than either platform keeps redelivering.
SEEN_TTL = 600.0


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
        """From any thread: whether the ACK carrying ``answer`` redrew the clicker's card."""
        # The card counts as redrawn only if the ACK carrying it was written in time.
        self.run(self.answered(answer, redrawn=written and answer.carries_card))

    async def answered(self, answer: ClickAnswer, *, redrawn: bool, how: str = "") -> None:
        """Tell the sink what became of a click's answer (nothing for an undecided click).

        The one way a channel reports it, whether the ACK, a delayed update or a callback's
        card API call carried the redraw.
        """
        if answer.result is not None and self.sink is not None:
            await self.sink.answered(answer.result, redrawn=redrawn, how=how)

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the gateway's loop, kept until done (see :meth:`drain`)."""
        if self.loop is None:
            work.close()
            return
        self.reports.run(self.loop, work)

    async def drain(self) -> None:
        """Wait (bounded) for reports still running, e.g. before the store closes."""
        await self.reports.drain()
