"""An open loop of taps where the users are (the platforms process): pressed on schedule,
each stamped as it starts, with how late it started against the schedule and how it was
answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

LEAD = 0.05  # seconds between the answer to the control request and the first press


@dataclass(frozen=True)
class Button:
    """A card's Approve button, found before the loop starts (``value`` None: no such card)."""

    delivery: str
    address: str
    message_id: str
    value: dict[str, Any] | None


@dataclass(frozen=True)
class Answer:
    """How the gateway answered a press: after ``seconds`` (None: not within the platform's
    3 s, so the press failed), and whether the answer carried the clicker's redrawn card (the
    click counted or decided in its own answer) or a toast alone ("processing": the card
    follows later, through the platform's update API)."""

    seconds: float | None
    card: bool


async def open_loop(
    rate: float,
    buttons: Sequence[Button],
    press: Callable[[Button], Coroutine[Any, Any, Answer]],
) -> list[dict[str, Any]]:
    """Press button ``i`` at ``i / rate`` s after the start, whatever the earlier presses do;
    each press's delivery, wall-clock stamp, lateness (s), whether it failed, and when
    answered, how soon (s) and whether with its card."""
    results: list[dict[str, Any]] = []

    async def one(button: Button, due: float) -> None:
        late = time.perf_counter() - due
        at = time.time()
        answer = await press(button)
        results.append(
            {
                "delivery": button.delivery,
                "at": at,
                "late": late,
                "failed": answer.seconds is None,
                "answered": answer.seconds,
                "card": answer.card,
            }
        )

    start = time.perf_counter() + LEAD
    tasks = []
    for i, button in enumerate(buttons):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(button, due)))
    await asyncio.gather(*tasks)
    return results
