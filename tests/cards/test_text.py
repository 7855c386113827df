"""Text safety helpers and the email's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cards import CardState, Locale, render_email, sample_view
from cards.i18n import format_time
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
