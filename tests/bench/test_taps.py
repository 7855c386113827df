"""The taps rows' arithmetic, and the open loop that presses the buttons where the users are."""

from __future__ import annotations

import math

import pytest

from bench.press import Answer, Button, open_loop
from bench.taps import achieved_rate, answers


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

    async def press(button: Button) -> Answer:
        pressed.append(button.delivery)
        return Answer(None if button.delivery == "d3" else 0.01, card=button.delivery != "d1")

    results = await open_loop(10_000, buttons, press)
    assert pressed == [b.delivery for b in buttons]  # in the schedule's order
    assert {r["delivery"]: r["failed"] for r in results} == {
        "d0": False,
        "d1": False,
        "d2": False,
        "d3": True,
        "d4": False,
    }
    assert {r["delivery"]: r["card"] for r in results if not r["failed"]} == {
        "d0": True,
        "d1": False,
        "d2": True,
        "d4": True,
    }


def test_answers_count_a_failed_press_beyond_every_answered_one() -> None:
    presses = [
        {"failed": False, "answered": 0.010, "card": True},
        {"failed": False, "answered": 0.030, "card": True},
        {"failed": False, "answered": 2.9, "card": False},
        {"failed": True, "answered": None, "card": False},
    ]
    got = answers(presses)
    assert got["answer_p50_ms"] == pytest.approx(30.0)
    assert math.isinf(got["answer_p99_ms"])
    assert (got["decided_in_answer"], got["toast_only"]) == (2, 1)
