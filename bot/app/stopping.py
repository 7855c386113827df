"""A stop that always ends, and a picture of what was still running when it would not.

``serve`` stops the gateway under :class:`StopBound`: the graceful stop gets
``OUTBOX__SHUTDOWN_GRACE_SECONDS`` plus :data:`STOP_MARGIN_SECONDS` (for cancelling what outlived
the grace, closing streams and the store). Past that bound the process logs every asyncio task
still pending, each with the chain of coroutines it is suspended in, and every thread's stack,
then exits with :data:`EXIT_STOP_OVERRAN` without waiting any longer. A supervisor sees a
failed stop; the jobs the process still held are taken over by another replica when their
leases run out, as after a crash.

The bound is kept twice: by a timer on the event loop (which can list the tasks), and by
``faulthandler``'s watchdog thread a little later (for a loop that is itself blocked, or an
interpreter that hangs at exit joining a thread), which prints the threads' stacks and exits 1.

``SIGUSR1`` logs the same picture at any time without stopping (:func:`dump_on_signal`).
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
import traceback
from types import CoroutineType, FrameType, GeneratorType, TracebackType
from typing import Any, Self

from bot.logs import kv

log = logging.getLogger("bot.stop")

STOP_MARGIN_SECONDS = 5.0
# How much later the watchdog thread ends a process whose event loop could not.
BACKSTOP_SECONDS = 2.0
EXIT_STOP_OVERRAN = 3
DUMP_SIGNAL = signal.SIGUSR1


def await_chain(task: asyncio.Task[Any]) -> list[str]:
    """Where a task is suspended: each frame of its coroutine chain, outermost first, and the
    future at the bottom (``Task.get_stack`` shows only the outermost frame)."""
    lines: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = _frame_of(awaited)
        if frame is None:
            lines.append(f"  awaiting {awaited!r}")
            break
        lines.append(_where(frame))
        awaited = _awaited_by(awaited)
    return lines


def _frame_of(awaitable: Any) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: Any) -> Any:
    if isinstance(awaitable, CoroutineType):
        return awaitable.cr_await
    if isinstance(awaitable, GeneratorType):
        return awaitable.gi_yieldfrom
    return getattr(awaitable, "ag_await", None)


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"  {code.co_filename}:{frame.f_lineno} in {code.co_qualname}"


def pending_tasks() -> list[dict[str, object]]:
    """Every task of the running loop but the caller's: name, coroutine and await chain."""
    current = asyncio.current_task()
    return [
        {
            "task": t.get_name(),
            "coro": getattr(t.get_coro(), "__qualname__", "?"),
            "stack": await_chain(t),
        }
        for t in asyncio.all_tasks()
        if t is not current
    ]


def thread_stacks() -> list[dict[str, object]]:
    """Every thread's name, daemon flag and stack, innermost frame last."""
    frames = sys._current_frames()
    return [
        {
            "thread": thread.name,
            "daemon": thread.daemon,
            "stack": traceback.format_stack(frames[thread.ident]) if thread.ident in frames else [],
        }
        for thread in threading.enumerate()
    ]


def log_running(message: str) -> None:
    """One log line per pending task and per thread, under ``message``."""
    tasks, threads = pending_tasks(), thread_stacks()
    log.warning(message, extra=kv(tasks=len(tasks), threads=len(threads)))
    for task in tasks:
        log.warning("still running: task", extra=kv(**task))
    for thread in threads:
        log.warning("still running: thread", extra=kv(**thread))


def dump_on_signal(loop: asyncio.AbstractEventLoop) -> None:
    """On ``SIGUSR1``, log the pending tasks and the threads' stacks (the process goes on)."""
    loop.add_signal_handler(DUMP_SIGNAL, log_running, "what is running (SIGUSR1)")


class StopBound:
    """``async with StopBound(seconds):`` around a stop: past ``seconds``, log what is still
    running and end the process with :data:`EXIT_STOP_OVERRAN`.

    The watchdog thread stays armed after the block, until the process exits: an interpreter
    that hangs at exit (a non-daemon thread that is never joined) is ended too.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Self:
        faulthandler.dump_traceback_later(self.seconds + BACKSTOP_SECONDS, exit=True)
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._overran)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _overran(self) -> None:
        log_running(f"the stop outlasted its bound of {self.seconds:g} s; exiting anyway")
        logging.shutdown()
        # Not SystemExit: unwinding would wait on the very tasks and threads that are stuck.
        os._exit(EXIT_STOP_OVERRAN)
