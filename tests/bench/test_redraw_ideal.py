"""The ideal schedule of a redraw storm: the earliest moments the platforms' limits allow."""

from __future__ import annotations

from collections import Counter

from bench.ideal import Budget, Call, Limit, completions, schedule

LARK_API = Budget("lark PATCH", (Limit(50, 1.0), Limit(1000, 60.0)))
DINGTALK_API = Budget("dingtalk PUT", (Limit(20, 1.0),))


def lark(due: float, message: str) -> Call:
    return Call(due, (LARK_API, Budget(f"message {message}", (Limit(5, 1.0),))))


def test_a_burst_goes_fifty_a_second_on_lark() -> None:
    times = schedule([lark(0.0, f"m{i}") for i in range(120)])
    assert Counter(times) == {0.0: 50, 1.0: 50, 2.0: 20}


def test_the_minute_window_holds_the_thousand_and_first_call() -> None:
    times = schedule([lark(0.0, f"m{i}") for i in range(1100)])
    assert times[999] == 19.0  # 1000 calls at 50/s
    assert times[1000] == 60.0  # then the first of them must be a minute old
    assert times[1099] == 61.0


def test_one_message_takes_five_updates_a_second() -> None:
    times = schedule([lark(0.0, "same") for _ in range(7)])
    assert times == [0.0] * 5 + [1.0] * 2


def test_dingtalk_twenty_a_second_and_nothing_before_it_is_due() -> None:
    calls = [Call(0.0, (DINGTALK_API,)) for _ in range(40)] + [Call(10.0, (DINGTALK_API,))]
    times = schedule(calls)
    assert Counter(times[:40]) == {0.0: 20, 1.0: 20}
    assert times[40] == 10.0


def test_calls_taken_in_order_of_due_time_whatever_the_order_given() -> None:
    calls = [Call(0.5, (DINGTALK_API,))] + [Call(0.0, (DINGTALK_API,)) for _ in range(20)]
    assert schedule(calls)[0] == 1.0


def test_calls_before_the_storm_fill_the_window() -> None:
    prior = {LARK_API.name: [0.0] * 1000}
    assert schedule([lark(30.0, "m")], prior) == [60.0]


def test_a_decision_completes_with_its_last_card() -> None:
    decided = [0.0, 1.0, 2.0]
    cards = [(0, 0.5), (0, 2.5), (1, 1.25)]
    assert completions(decided, cards) == [2.5, 0.25, None]
