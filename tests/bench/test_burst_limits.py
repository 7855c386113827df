"""The rate a Lark burst is held against: the app's limit, or a hot user's when it binds."""

from __future__ import annotations

import pytest

from bench.rates import lark_limit, receivers, skewed_limit


def test_a_burst_within_a_minute_is_held_to_the_app_per_second_limit() -> None:
    assert lark_limit(60) == (50.0, "50/s app limit")


def test_a_burst_past_a_minute_is_held_to_the_per_minute_limit() -> None:
    rate, name = lark_limit(2000)
    assert rate == pytest.approx(1000 / 60)
    assert name == "1000/min app limit"


def test_the_quick_skewed_burst_is_bound_by_its_hot_user() -> None:
    who = receivers(20, 60, True)
    hot = who.count(who[0])
    assert hot == 12
    rate, name = skewed_limit(60, hot)
    # 12 cards at 5/s span 2.2 s; 60 cards in 2.2 s first to last is 59 / 2.2 a second.
    assert rate == pytest.approx(59 / 2.2)
    assert name == "5/s user limit on 12 of the cards"


def test_a_large_skewed_burst_is_bound_by_the_app() -> None:
    # 400 of 2,000 cards to one user take 79.8 s at 5/s; 2,000 at 1000/min take 119.9 s.
    assert skewed_limit(2000, 400) == lark_limit(2000)
