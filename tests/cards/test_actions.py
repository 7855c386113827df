"""The click contract: what the renderers put on buttons parses back to a Click."""

from __future__ import annotations

from typing import Any

import pytest

from cards import CardState, Click, Locale, parse_click, render_dingtalk, render_lark, sample_view
from cards.actions import COMMENT_FIELD, REF_MAX_LENGTH
from cards.dingtalk import template_definition


def _lark_callback_values(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["value"]] if node.get("type") == "callback" else []
        return found + [v for child in node.values() for v in _lark_callback_values(child)]
    if isinstance(node, list):
        return [v for child in node for v in _lark_callback_values(child)]
    return []


@pytest.mark.parametrize("locale", list(Locale))
def test_lark_buttons_round_trip(locale: Locale) -> None:
    card = render_lark(sample_view(CardState.PENDING, locale))
    values = _lark_callback_values(card)
    clicks = [parse_click(v, {COMMENT_FIELD: "  looks fine \n"}, "ou_b") for v in values]
    assert clicks == [
        Click(action="approve", ref="dlv_7f3a9c2e41b8", comment="looks fine"),
        Click(action="reject", ref="dlv_7f3a9c2e41b8", comment="looks fine"),
        Click(action="hand_over", ref="dlv_7f3a9c2e41b8", to="ou_b"),  # the person picker
    ]


@pytest.mark.parametrize("option", [None, "", 7, " ou_b", "x" * 129])
def test_a_pick_without_a_person_is_not_a_pick(option: Any) -> None:
    card = render_lark(sample_view(CardState.PENDING, Locale.EN_US))
    (picker,) = [v for v in _lark_callback_values(card) if v["action"] == "hand_over"]
    assert parse_click(picker, None, option) is None


def test_test_card_buttons_answer_test() -> None:
    card = render_lark(sample_view(CardState.TEST, Locale.EN_US))
    clicks = [parse_click(v, None) for v in _lark_callback_values(card)]
    assert [c.action for c in clicks if c] == ["test", "test"]  # and no person picker


def test_final_cards_have_no_callbacks() -> None:
    for state in (CardState.APPROVED, CardState.REJECTED, CardState.FAILED, CardState.EXPIRED):
        assert _lark_callback_values(render_lark(sample_view(state, Locale.EN_US))) == []


def test_dingtalk_params_round_trip() -> None:
    params = render_dingtalk(sample_view(CardState.PENDING, Locale.ZH_CN))
    for key, action in (("approveAction", "approve"), ("rejectAction", "reject")):
        # DingTalk sends button params and the input value in one map
        echoed = {"action": params[key], "ref": params["actionRef"], "comment": "同意"}
        assert parse_click(echoed, None) == Click(
            action=action, ref="dlv_7f3a9c2e41b8", comment="同意"
        )


def test_dingtalk_template_buttons_use_the_contract() -> None:
    definition = template_definition()
    buttons = {c["id"]: c for c in definition["components"] if c["type"] == "button"}
    params = buttons["approve_button"]["onClick"]["params"]
    assert params == {"action": "${approveAction}", "ref": "${actionRef}"}
    inputs = [c for c in definition["components"] if c["type"] == "input"]
    assert [i["name"] for i in inputs] == [COMMENT_FIELD]


@pytest.mark.parametrize(
    ("value", "form"),
    [
        ({}, None),
        ({"action": "delete", "ref": "r1"}, None),
        ({"action": "approve"}, None),
        ({"action": "approve", "ref": ""}, None),
        ({"action": "approve", "ref": 42}, None),
        ({"action": "approve", "ref": "x" * (REF_MAX_LENGTH + 1)}, None),
        ("approve", None),
    ],
)
def test_foreign_values_are_not_ours(value: Any, form: Any) -> None:
    assert parse_click(value, form) is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("   ", None), ("", None), (7, None), (" ok ", "ok")]
)
def test_comment_is_stripped(raw: Any, expected: str | None) -> None:
    click = parse_click({"action": "reject", "ref": "r1"}, {COMMENT_FIELD: raw})
    assert click is not None and click.comment == expected


def test_form_value_wins_over_value() -> None:
    value = {"action": "approve", "ref": "r1", "comment": "from value"}
    assert parse_click(value, {"comment": "from form"}) == Click(
        action="approve", ref="r1", comment="from form"
    )
    assert parse_click(value, None) == Click(action="approve", ref="r1", comment="from value")


def test_dingtalk_template_documents_every_param() -> None:
    variables = [v["name"] for v in template_definition()["variables"]]
    assert variables == list(render_dingtalk(sample_view(CardState.PENDING, Locale.EN_US)))
    assert all(v["description"] for v in template_definition()["variables"])
