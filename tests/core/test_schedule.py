"""The schedule of reminders, escalation and the outcome: pure rules, the time passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.core.intake import ApprovalRequest, Reminders
from bot.core.timing.durations import format_duration, parse_duration
from bot.core.timing.plan import Pending, Plan, plan
from bot.core.timing.policy import TimingPolicy
from bot.core.timing.quiet import QuietHours, first_at, zone, zone_for
from sandbox.tickets import approver, sample_ticket

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)  # a Wednesday, 09:00 UTC
UTC_ZONE = zone("UTC")
H = timedelta(hours=1)


def ticket(expires_in: timedelta = timedelta(hours=24), **timing: Any) -> ApprovalRequest:
    body = sample_ticket("T-1", [approver("a1", "Ann"), approver("a2", "Bob")])
    body["expires_at"] = (T0 + expires_in).isoformat()
    return ApprovalRequest.model_validate({**body, **timing})


def pending(*ids: str, urgency: frozenset[Any] = frozenset(), where: str = "UTC") -> list[Pending]:
    return [Pending(account_id, zone(where), urgency) for account_id in ids]


def times(result: Plan, kind: str = "reminder", who: str | None = "a1") -> list[datetime]:
    return [s.due for s in result.steps if s.kind == kind and s.account_id == who]


def test_reminder_n_falls_at_after_plus_n_minus_one_every_up_to_max() -> None:
    request = ticket(reminders={"after": "PT30M", "every": "PT1H", "max": 3})
    result = plan(request, T0, pending("a1"), TimingPolicy())
    assert times(result) == [T0 + timedelta(minutes=30), T0 + 1.5 * H, T0 + 2.5 * H]
    assert [s.key for s in result.steps[:3]] == ["reminder:1:a1", "reminder:2:a1", "reminder:3:a1"]


def test_without_max_reminders_fill_the_time_to_the_deadline_at_most_ten() -> None:
    short = ticket(expires_in=4 * H, reminders={"after": "PT1H", "every": "PT1H"})
    assert (
        len(times(plan(short, T0, pending("a1"), TimingPolicy()))) == 3
    )  # 1h, 2h, 3h: 4h is the end
    long = ticket(expires_in=48 * H, reminders={"after": "PT1H", "every": "PT1H"})
    assert len(times(plan(long, T0, pending("a1"), TimingPolicy()))) == 10


def test_only_approvers_still_to_vote_are_reminded() -> None:
    request = ticket(reminders={"after": "PT1H"})
    both = plan(request, T0, pending("a1", "a2"), TimingPolicy())
    one = plan(request, T0, pending("a2"), TimingPolicy())
    assert {s.account_id for s in both.steps if s.kind == "reminder"} == {"a1", "a2"}
    assert {s.account_id for s in one.steps if s.kind == "reminder"} == {"a2"}


def test_escalation_steps_fall_at_their_after_and_the_outcome_at_expires_at_last() -> None:
    added = {"account_id": "boss", "account_type": "main", "display_name": "Boss"}
    request = ticket(
        escalation=[
            {"after": "PT2H", "notify": "email"},
            {"after": "PT4H", "urgent": "sms"},
            {"after": "PT6H", "add_approvers": [added]},
        ],
        on_expiry="reject",
    )
    result = plan(request, T0, pending("a1", urgency=frozenset({"app", "sms"})), TimingPolicy())
    shape = [(s.kind, s.action, s.due - T0, s.account_id, s.urgent) for s in result.steps]
    assert shape == [
        ("escalation", "notify:email", 2 * H, "a1", None),
        ("escalation", "remind", 4 * H, "a1", "sms"),
        ("escalation", "add_approvers", 6 * H, None, None),
        ("expiry", "reject", 24 * H, None, None),
    ]
    assert result.steps[2].approvers[0].account_id == "boss"


def test_the_outcome_defaults_to_the_deployments() -> None:
    assert plan(ticket(), T0, [], TimingPolicy()).steps[-1].action == "expire"
    allowed = TimingPolicy(on_expiry="approve", allow_auto_approve=True)
    assert plan(ticket(), T0, [], allowed).steps[-1].action == "approve"


def test_due_gives_what_is_due_now_and_not_done() -> None:
    request = ticket(reminders={"after": "PT30M", "every": "PT1H", "max": 3})
    result = plan(request, T0, pending("a1"), TimingPolicy())
    assert result.due(T0 + 10 * timedelta(minutes=1)) == ()
    due = result.due(T0 + 2 * H)
    assert [s.key for s in due] == ["reminder:1:a1", "reminder:2:a1"]
    assert [s.key for s in result.due(T0 + 2 * H, done={"reminder:1:a1"})] == ["reminder:2:a1"]
    assert result.due(T0 + 30 * H)[-1].kind == "expiry"


def test_unavailable_urgency_becomes_a_plain_reminder_and_the_plan_says_so() -> None:
    request = ticket(reminders={"after": "PT1H", "urgent": "phone"})
    lark = plan(
        request, T0, pending("a1", urgency=frozenset({"app", "sms", "phone"})), TimingPolicy()
    )
    email = plan(request, T0, pending("a1"), TimingPolicy())
    assert (lark.steps[0].urgent, lark.steps[0].note) == ("phone", "")
    assert email.steps[0].urgent is None and email.steps[0].asked == "phone"
    assert (
        "phone urgency is not offered" in email.steps[0].note
        and "plain reminder" in email.steps[0].note
    )


def test_deployment_reminders_apply_unless_the_request_names_its_own_or_turns_them_off() -> None:
    policy = TimingPolicy(reminders=Reminders.model_validate({"after": "PT3H"}))
    assert times(plan(ticket(), T0, pending("a1"), policy)) == [T0 + 3 * H]
    own = ticket(reminders={"after": "PT1H"})
    assert times(plan(own, T0, pending("a1"), policy)) == [T0 + H]
    assert times(plan(ticket(reminders="off"), T0, pending("a1"), policy)) == []


def test_an_added_approver_is_not_reminded_of_what_came_before_their_card() -> None:
    request = ticket(reminders={"after": "PT1H", "every": "PT1H", "max": 5})
    late = [Pending("boss", UTC_ZONE, since=T0 + 3.5 * H)]
    assert times(plan(request, T0, late, TimingPolicy()), who="boss") == [T0 + 4 * H, T0 + 5 * H]


# ---------------------------------------------------------------- quiet hours

NIGHT = QuietHours.parse("22:00-08:00")


def test_quiet_hours_hold_reminders_in_the_approvers_zone_never_the_outcome_or_cards() -> None:
    # 13:00 UTC + 2h = 15:00 UTC = 23:00 in Shanghai: held to 08:00 there, 00:00 UTC next day.
    start = datetime(2024, 1, 10, 13, 0, tzinfo=UTC)
    added = {"account_id": "boss", "account_type": "main", "display_name": "Boss"}
    request = ApprovalRequest.model_validate(
        {
            **sample_ticket("T-Q", [approver("a1", "Ann")]),
            "expires_at": (start + 48 * H).isoformat(),
            "reminders": {"after": "PT2H"},
            "escalation": [{"after": "PT3H", "add_approvers": [added]}],
        }
    )
    policy = TimingPolicy(quiet=NIGHT)
    result = plan(request, start, pending("a1", where="Asia/Shanghai"), policy)
    cards, reminder, outcome = result.steps  # in the order they go
    assert reminder.at == start + 2 * H
    assert reminder.due == datetime(2024, 1, 11, 0, 0, tzinfo=UTC)
    assert "held by quiet hours 22:00-08:00 (Asia/Shanghai)" in reminder.note
    assert cards.due == cards.at == start + 3 * H  # 00:00 in Shanghai, sent anyway
    assert outcome.due == request.expires_at
    # The same moment is daytime for an approver in UTC: not held.
    assert plan(request, start, pending("a1"), policy).steps[0].due == start + 2 * H


@pytest.mark.parametrize(
    ("at", "released"),
    [
        # Berlin in winter is UTC+1: its night 22:00-08:00 is 21:00-07:00 UTC, across midnight UTC.
        (datetime(2024, 1, 10, 20, 59, tzinfo=UTC), datetime(2024, 1, 10, 20, 59, tzinfo=UTC)),
        (datetime(2024, 1, 10, 21, 0, tzinfo=UTC), datetime(2024, 1, 11, 7, 0, tzinfo=UTC)),
        (datetime(2024, 1, 10, 23, 30, tzinfo=UTC), datetime(2024, 1, 11, 7, 0, tzinfo=UTC)),
        (datetime(2024, 1, 11, 0, 30, tzinfo=UTC), datetime(2024, 1, 11, 7, 0, tzinfo=UTC)),
        (datetime(2024, 1, 11, 6, 59, tzinfo=UTC), datetime(2024, 1, 11, 7, 0, tzinfo=UTC)),
        (datetime(2024, 1, 11, 7, 0, tzinfo=UTC), datetime(2024, 1, 11, 7, 0, tzinfo=UTC)),
    ],
)
def test_a_night_that_spans_midnight_utc(at: datetime, released: datetime) -> None:
    assert NIGHT.release(at, zone("Europe/Berlin")) == released


def test_a_night_with_the_spring_forward_change_is_an_hour_shorter_in_utc() -> None:
    # Berlin, 2024-03-31: 02:00 CET becomes 03:00 CEST. 23:00 CET (22:00 UTC) waits until
    # 08:00 CEST = 06:00 UTC: 8 hours, not 9.
    at = datetime(2024, 3, 30, 22, 0, tzinfo=UTC)
    assert NIGHT.release(at, zone("Europe/Berlin")) == datetime(2024, 3, 31, 6, 0, tzinfo=UTC)


def test_a_night_with_the_fall_back_change_is_an_hour_longer_in_utc() -> None:
    # Berlin, 2024-10-27: 03:00 CEST becomes 02:00 CET. 23:00 CEST (21:00 UTC) waits until
    # 08:00 CET = 07:00 UTC: 10 hours.
    at = datetime(2024, 10, 26, 21, 0, tzinfo=UTC)
    assert NIGHT.release(at, zone("Europe/Berlin")) == datetime(2024, 10, 27, 7, 0, tzinfo=UTC)


def test_an_end_the_clocks_skip_is_the_moment_they_jump() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31: the night ends at the jump, 01:00 UTC.
    short = QuietHours.parse("22:00-02:30")
    at = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)
    assert short.release(at, zone("Europe/Berlin")) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def test_an_end_the_clocks_show_twice_is_its_first_showing() -> None:
    # 02:30 is shown twice in Berlin on 2024-10-27 (CEST, then CET): the first, 00:30 UTC.
    short = QuietHours.parse("22:00-02:30")
    at = datetime(2024, 10, 26, 22, 0, tzinfo=UTC)  # midnight in Berlin
    assert short.release(at, zone("Europe/Berlin")) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert first_at(date(2024, 10, 27), time(2, 30), zone("Europe/Berlin")) == datetime(
        2024, 10, 27, 0, 30, tzinfo=UTC
    )


def test_a_reminder_quiet_hours_push_past_the_deadline_is_dropped_and_listed() -> None:
    # Due 23:00 in Shanghai, the request ends at 01:00 there: never sent.
    start = datetime(2024, 1, 10, 13, 0, tzinfo=UTC)
    request = ApprovalRequest.model_validate(
        {
            **sample_ticket("T-D", [approver("a1", "Ann")]),
            "expires_at": (start + 4 * H).isoformat(),
            "reminders": {"after": "PT2H"},
        }
    )
    result = plan(request, start, pending("a1", where="Asia/Shanghai"), TimingPolicy(quiet=NIGHT))
    assert [s.kind for s in result.steps] == ["expiry"]
    assert len(result.dropped) == 1 and "not sent" in result.dropped[0].note


def test_zones_come_from_the_account_else_the_locale() -> None:
    assert zone_for(None, "zh-CN").key == "Asia/Shanghai"
    assert zone_for("Europe/Berlin", "zh-CN").key == "Europe/Berlin"
    assert zone_for(None, "en-US").key == "UTC"
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Mars/Olympus")


@pytest.mark.parametrize("text", ["22:00", "25:00-08:00", "22:00-22:00", "10pm-8am"])
def test_quiet_hours_are_refused_when_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        QuietHours.parse(text)


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize("text", ["PT30M", "PT1H", "P1DT12H", "P2W", "PT0.5S", "PT90M"])
def test_durations_read_back_what_they_write(text: str) -> None:
    value = parse_duration(text)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["P1Y", "P1M", "PT", "P", "1800", "PT0S", "-PT1H", "P4000D"])
def test_durations_without_one_length_or_not_positive_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
