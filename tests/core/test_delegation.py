"""Delegation while away: who acts for whom at a moment; what cannot be set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.delegation import MAX_DEPTH, Delegation, check, may_vote, resolve
from bot.errors import InvalidInput

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def away(who: str, to: str, start: int = 0, days: int = 7) -> Delegation:
    return Delegation(who, to, T0 + start * DAY, T0 + (start + days) * DAY)


def test_the_delegate_acts_only_inside_the_window() -> None:
    rules = [away("A", "B", start=1, days=2)]
    assert resolve("A", T0, rules).actor == "A"
    assert resolve("A", T0 + DAY, rules).actor == "B"  # the start is inside
    assert resolve("A", T0 + 3 * DAY - timedelta(seconds=1), rules).actor == "B"
    assert resolve("A", T0 + 3 * DAY, rules).actor == "A"  # the end is not


def test_a_vote_is_recorded_as_b_for_a() -> None:
    result = resolve("A", T0, [away("A", "B")])
    assert (result.label, result.chain) == ("B for A", ("A", "B"))
    assert resolve("A", T0, []).label == "A"


def test_chains_are_followed_to_the_last_delegate_present() -> None:
    rules = [away("A", "B"), away("B", "C"), away("C", "D", start=2)]
    assert resolve("A", T0, rules).chain == ("A", "B", "C")
    assert resolve("A", T0 + 2 * DAY, rules).chain == ("A", "B", "C", "D")


def test_chains_stop_after_the_bounded_depth() -> None:
    rules = [away("A", "B"), away("B", "C"), away("C", "D"), away("D", "E")]
    result = resolve("A", T0, rules)
    assert MAX_DEPTH == 3
    assert result.chain == ("A", "B", "C", "D") and "more than 3 hops" in result.note


def test_the_submitter_never_acts_on_their_own_request() -> None:
    rules = [away("A", "B"), away("B", "S")]
    result = resolve("A", T0, rules, submitter="S")
    assert result.actor == "B" and "S submitted the request" in result.note
    assert resolve("A", T0, [away("A", "S")], submitter="S").actor == "A"


def test_who_may_vote_for_an_approver() -> None:
    rules = [away("A", "B")]
    assert may_vote("B", "A", T0, rules) and may_vote("A", "A", T0, rules)
    assert not may_vote("C", "A", T0, rules)
    assert not may_vote("B", "A", T0 + 8 * DAY, rules)  # the window is over


def test_a_cycle_is_refused_when_set() -> None:
    with pytest.raises(InvalidInput) as refused:
        check(away("C", "A"), [away("A", "B"), away("B", "C")])
    assert "cycle C -> A -> B -> C" in refused.value.fields["delegate_id"]


def test_a_cycle_is_refused_only_where_the_windows_meet() -> None:
    # B is away on days 5-7; A delegating to B on days 0-3 and B to A on days 5-7 never meet.
    check(away("A", "B", start=0, days=3), [away("B", "A", start=5, days=2)])
    with pytest.raises(InvalidInput, match="cycle"):
        check(away("A", "B", start=0, days=6), [away("B", "A", start=5, days=2)])


@pytest.mark.parametrize(
    ("new", "field"),
    [
        (away("A", "A"), "delegate_id"),
        (Delegation("A", "B", T0, T0), "ends_at"),
        (away("A", "C", start=3), "starts_at"),  # overlaps A's own delegation to B
    ],
)
def test_other_refusals_name_the_field(new: Delegation, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check(new, [away("A", "B")])
    assert field in refused.value.fields
