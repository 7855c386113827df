"""The taps rows' arithmetic, and the open loop that presses the buttons where the users are."""

from __future__ import annotations

import math

import pytest

from bench.press import Button, open_loop
from bench.taps import achieved_rate


def test_the_rate_counts_the_gaps_between_the_first_press_and_the_last() -> None:
    assert achieved_rate([10.0, 10.5, 11.0, 12.0]) == pytest.approx(1.5)


def test_the_rate_does_not_depend_on_the_order_of_the_stamps() -> None:
    assert achieved_rate([12.0, 10.0, 11.0]) == pytest.approx(1.0)


@pytest.mark.parametrize("stamps", [[], [5.0], [5.0, 5.0]])
def test_no_rate_without_two_presses_apart(stamps: list[float]) -> None:
    assert math.isnan(achieved_rate(stamps))


async def test_every_button_is_pressed_once_and_a_press_unanswered_is_failed() -> None:
    buttons = [Button(f"d{i}", f"ou_{i}", f"om_{i}", {"action": "approve"}) for i in range(5)]
    pressed: list[str] = []

    async def press(button: Button) -> bool:
        pressed.append(button.delivery)
        return button.delivery != "d3"

    results = await open_loop(10_000, buttons, press)
    assert pressed == [b.delivery for b in buttons]  # in the schedule's order
    assert {r["delivery"]: r["failed"] for r in results} == {
        "d0": False,
        "d1": False,
        "d2": False,
        "d3": True,
        "d4": False,
    }
