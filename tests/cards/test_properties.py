"""Any ticket text renders to a payload that validates and fits the platform limit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import (
    LARK_CARD_LIMIT,
    ApprovalView,
    CardState,
    Locale,
    ViewDecision,
    ViewField,
    render_dingtalk,
    render_email,
    render_lark,
    sample_view,
    validate,
)
from cards.lark import lark_body_size, lark_content, render_lark_content
from cards.text import escape_dingtalk, escape_lark

NASTY = [
    "*",
    "**bold**",
    "_",
    "~~",
    "`code`",
    "<at id=all></at>",
    "<at user_id='ou_x'>",
    "</div>",
    "<font color='red'>",
    "<script>alert(1)</script>",
    "[x](http://evil)",
    "http://evil.example/path",
    "![img](http://evil/i.png)",
    "&#60;at id=all&#62;",
    "\\",
    "# heading",
    "\n- item\n",
    "漢字",
    "😀",
    "\u202e",
    "\x00",
    "{{ x }}",
]

text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(NASTY), max_size=8).map("".join),
    st.builds(lambda s, n: s * n, st.sampled_from([*NASTY, "x"]), st.integers(500, 4000)),
)
fields = st.lists(st.builds(ViewField, name=text, value=text), max_size=60)
decision = st.none() | st.builds(
    ViewDecision, by=text, at=st.just(datetime(2026, 1, 1, tzinfo=UTC)), comment=st.none() | text
)
views = st.builds(
    ApprovalView,
    ticket_id=text,
    title=text,
    summary=text,
    fields=fields,
    submitter=text,
    approver=text,
    console_url=st.sampled_from(["https://dms.example.com/t/1", "javascript:alert(1)", "x" * 5000]),
    expires_at=st.datetimes(timezones=st.just(UTC)),
    locale=st.sampled_from(list(Locale)),
    state=st.sampled_from(list(CardState)),
    decision=decision,
    action_ref=st.sampled_from(["dlv_1", "", "r" * 300]),
    note=st.none() | text,
)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _markdowns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["content"]] if node.get("tag") == "markdown" else []
        return own + [m for child in node.values() for m in _markdowns(child)]
    if isinstance(node, list):
        return [m for child in node for m in _markdowns(child)]
    return []


def _no_markup_from_input(markdown: str) -> None:
    assert "<" not in markdown  # no <at>, <font>, </div>, <script> at all
    assert "](" not in markdown
    assert not re.search(r"(?<!\\)://", markdown)


@FAST
@given(views)
def test_lark_valid_and_safe(view: ApprovalView) -> None:
    card = render_lark(view)
    result = validate("lark", card)
    assert result.ok, result.errors
    json.dumps(card, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    for markdown in _markdowns(card):
        _no_markup_from_input(markdown)


@FAST
@given(views)
def test_a_lark_messages_content_is_the_card_as_fitted(view: ApprovalView) -> None:
    # The content string is the one written when the card's size was checked, not another.
    content = render_lark_content(view)
    assert content == lark_content(render_lark(view))
    assert json.loads(content) == render_lark(view)


@FAST
@given(views)
def test_dingtalk_valid_and_safe(view: ApprovalView) -> None:
    params = render_dingtalk(view)
    result = validate("dingtalk", params)
    assert result.ok, result.errors
    json.dumps(params, ensure_ascii=False).encode("utf-8")
    _no_markup_from_input(params["markdown"])


@FAST
@given(views)
def test_email_valid(view: ApprovalView) -> None:
    email = render_email(view)
    result = validate("email", email)
    assert result.ok, result.errors
    assert "<script>" not in email.html and "<at" not in email.html


def test_huge_title_still_fits() -> None:
    view = ApprovalView(
        ticket_id="T-1",
        title="ALTER TABLE orders ADD INDEX " * 400,
        summary="😀" * 50_000,
        fields=tuple(ViewField(name=f"f{i}", value="<at id=all>" * 100) for i in range(500)),
        submitter="s",
        approver="a",
        console_url="https://dms.example.com/t/1",
        expires_at=datetime(2026, 11, 23, 18, tzinfo=UTC),
        action_ref="dlv_1",
    )
    for channel, payload in (("lark", render_lark(view)), ("dingtalk", render_dingtalk(view))):
        assert validate(channel, payload).ok  # type: ignore[arg-type]
    assert "…" in render_lark(view)["header"]["title"]["content"]


_LARK_ENTITY = re.compile(r"&#\d+;")
_DINGTALK_ESCAPE = re.compile(r"\\.|&(?:lt|gt|amp);")
SPECIAL = set("\\`*_[]()<>#+-.!|~:&=")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_has_no_markup_left(raw: str) -> None:
    assert not SPECIAL & set(_LARK_ENTITY.sub("", escape_lark(raw)))
    assert not SPECIAL & set(_DINGTALK_ESCAPE.sub("", escape_dingtalk(raw)))


def _picks(card: dict[str, Any]) -> bool:
    return '"select_person"' in json.dumps(card)


def test_short_of_room_the_picker_goes_before_any_text() -> None:
    # Twenty candidates (about 1 KB): somewhere between the card fitting with them and the
    # card fitting only shortened is a size where it fits whole without the picker.
    offered = tuple(f"ou_{i:032x}" for i in range(20))

    def view(length: int) -> ApprovalView:
        fields = tuple(ViewField(name=f"f{i}", value="x" * length) for i in range(30))
        return sample_view(CardState.PENDING, Locale.EN_US).model_copy(
            update={"fields": fields, "summary": "", "hand_over_to": offered}
        )

    cards = [render_lark(view(length)) for length in range(820, 961, 4)]
    assert _picks(cards[0]) and "shortened" in json.dumps(cards[-1])  # the two ends
    dropped = [card for card in cards if not _picks(card)]
    assert dropped and all("shortened" not in json.dumps(card) for card in dropped)
    assert all(lark_body_size(card) <= LARK_CARD_LIMIT for card in cards)
