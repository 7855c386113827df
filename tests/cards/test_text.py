"""Text safety helpers and the email's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.core.timing.quiet import DEFAULT_ZONES
from cards import ApprovalView, CardState, Locale, render_email, sample_view
from cards.i18n import LOCALE_ZONES, format_time
from cards.text import clean, escape_dingtalk, escape_lark, one_line, safe_url, truncate


def test_lark_escape_uses_entities() -> None:
    assert escape_lark("<at id=all>") == "&#60;at id&#61;all&#62;"
    assert escape_lark("[x](http://evil)") == "&#91;x&#93;&#40;http&#58;//evil&#41;"


def test_dingtalk_escape_uses_backslashes_and_entities() -> None:
    assert escape_dingtalk("*a* <b> & [c]") == "\\*a\\* &lt;b&gt; &amp; \\[c\\]"


def test_clean_drops_controls_and_lone_surrogates() -> None:
    assert clean("a\x00b\u202ec\r\nd\ud800") == "abc\nd\ufffd"
    assert one_line(" a\n\tb  ") == "a b"


@pytest.mark.parametrize(("limit", "expected"), [(10, ("abcdef", False)), (4, ("abc…", True))])
def test_truncate(limit: int, expected: tuple[str, bool]) -> None:
    assert truncate("abcdef", limit) == expected


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://a.example/x y", 'https://a.example/"', "ftp://a", ""]
)
def test_unsafe_urls_are_refused(url: str) -> None:
    assert safe_url(url) is None


def test_format_time_keeps_the_given_zone() -> None:
    assert format_time(datetime(2026, 11, 23, 18, 0, tzinfo=UTC)) == "2026-11-23 18:00 UTC"
    east8 = datetime(2026, 11, 24, 2, 0, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(east8) == "2026-11-24 02:00 UTC+08:00"
    assert format_time(datetime(2026, 1, 2, 3, 4)) == "2026-01-02 03:04"  # noqa: DTZ001


@pytest.mark.parametrize("locale", list(Locale))
def test_email_links_console_and_has_no_buttons(locale: Locale) -> None:
    email = render_email(sample_view(CardState.PENDING, locale))
    assert 'href="https://dms.example.com/tickets/DMS-20261123-0042"' in email.html
    assert "<button" not in email.html and "<form" not in email.html
    assert "https://dms.example.com/tickets/DMS-20261123-0042" in email.text


def test_email_escapes_html() -> None:
    view = sample_view(CardState.PENDING, Locale.EN_US).model_copy(
        update={"title": "<img src=x onerror=alert(1)>\nBcc: x@example.com"}
    )
    email = render_email(view)
    assert "<img" not in email.html and "&lt;img" in email.html
    assert "\n" not in email.subject


def test_format_time_in_a_zone_names_it_and_its_offset() -> None:
    at = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert format_time(at, ZoneInfo("UTC")) == "2026-11-23 18:00 UTC"
    assert format_time(at, ZoneInfo("America/New_York")) == "2026-11-23 13:00 EST (UTC-05:00)"
    summer = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
    assert format_time(summer, ZoneInfo("America/New_York")) == "2026-07-01 14:00 EDT (UTC-04:00)"
    assert format_time(at, ZoneInfo("Asia/Kolkata")) == "2026-11-23 23:30 IST (UTC+05:30)"
    assert format_time(at, ZoneInfo("Asia/Dubai")) == "2026-11-23 22:00 UTC+04:00"  # "+04"


def test_cards_default_zones_are_the_quiet_hours_defaults() -> None:
    assert {loc.value: name for loc, name in LOCALE_ZONES.items()} == dict(DEFAULT_ZONES)


def test_a_view_in_an_unknown_zone_is_refused() -> None:
    view = sample_view(CardState.PENDING, Locale.EN_US).model_dump()
    with pytest.raises(ValidationError, match="unknown time zone"):
        ApprovalView.model_validate({**view, "time_zone": "No/Where"})


def test_an_en_us_approver_in_new_york_reads_new_york_times() -> None:
    view = sample_view(CardState.APPROVED, Locale.EN_US)
    assert "Expires: 2026-11-23 18:00 UTC" in render_email(view).text  # no zone: the locale's
    ny = view.model_copy(update={"time_zone": "America/New_York"})
    text = render_email(ny).text
    assert "Expires: 2026-11-23 13:00 EST (UTC-05:00)" in text
    assert "At: 2026-11-23 04:30 EST (UTC-05:00)" in text  # decided at 09:30 UTC
