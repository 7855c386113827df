"""validate() accepts what we render and each of its checks can fail."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cards import (
    DINGTALK_CARD_LIMIT,
    LARK_CARD_LIMIT,
    CardState,
    Locale,
    RenderedEmail,
    render_dingtalk,
    render_email,
    render_lark,
    sample_view,
    validate,
    validate_json,
)

VIEW = sample_view(CardState.PENDING, Locale.EN_US)


def _form(card: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in card["body"]["elements"] if e["tag"] == "form")


def _approve(card: dict[str, Any]) -> dict[str, Any]:
    button: dict[str, Any] = _form(card)["elements"][1]["columns"][0]["elements"][0]
    return button


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Any:
    def change(card: dict[str, Any]) -> None:
        path(card)[key] = value

    return change


LARK_BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "schema": _set(lambda c: c, "schema", "1.0"),
    "update_multi": _set(lambda c: c["config"], "update_multi", False),
    "header.title": _set(lambda c: c["header"], "title", {"tag": "plain_text", "content": ""}),
    "body.elements": _set(lambda c: c["body"], "elements", {}),
    "unknown tag": lambda c: c["body"]["elements"].append({"tag": "iframe"}),
    "input must be named": _set(lambda c: _form(c)["elements"][0], "name", "reason"),
    "needs behaviors": _set(_approve, "behaviors", []),
    "unknown behavior": _set(lambda c: _approve(c)["behaviors"][0], "type", "eval"),
    "exactly": _set(lambda c: _approve(c)["behaviors"][0]["value"], "extra", 1),
    "action must be": _set(lambda c: _approve(c)["behaviors"][0]["value"], "action", "drop"),
    "ref must be": _set(lambda c: _approve(c)["behaviors"][0]["value"], "ref", ""),
    "open_url": _set(
        lambda c: c["body"]["elements"][-1]["behaviors"][0], "default_url", "javascript:x"
    ),
    "over the limit": _set(lambda c: c["body"]["elements"][0], "content", "x" * LARK_CARD_LIMIT),
}


def test_rendered_payloads_are_ok() -> None:
    assert validate("lark", render_lark(VIEW)).ok
    assert validate("dingtalk", render_dingtalk(VIEW)).ok
    assert validate("email", render_email(VIEW)).ok


@pytest.mark.parametrize("expected", list(LARK_BREAKS))
def test_lark_check_fails(expected: str) -> None:
    card = copy.deepcopy(render_lark(VIEW))
    LARK_BREAKS[expected](card)
    result = validate("lark", card)
    assert not result.ok
    assert any(expected in error for error in result.errors), result.errors


def test_lark_not_an_object() -> None:
    assert validate("lark", ["schema"]).errors == ("card must be a JSON object",)


DINGTALK_BREAKS: dict[str, tuple[str, Any]] = {
    "value must be a string": ("showActions", True),
    "must be 'true' or 'false'": ("isTest", "yes"),
    "unknown state": ("state", "archived"),
    "unknown locale": ("locale", "fr-FR"),
    "callback action": ("approveAction", "drop"),
    "callback ref": ("actionRef", ""),
    "consoleUrl": ("consoleUrl", "javascript:alert(1)"),
    "over the limit": ("markdown", "x" * DINGTALK_CARD_LIMIT),
}


@pytest.mark.parametrize("expected", list(DINGTALK_BREAKS))
def test_dingtalk_check_fails(expected: str) -> None:
    key, value = DINGTALK_BREAKS[expected]
    params: dict[str, Any] = {**render_dingtalk(VIEW), key: value}
    result = validate("dingtalk", params)
    assert any(expected in error for error in result.errors), result.errors


def test_dingtalk_missing_key() -> None:
    params = render_dingtalk(VIEW)
    del params["actionRef"]
    assert validate("dingtalk", params).errors == ("missing key 'actionRef'",)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ({"subject": "", "text": "t", "html": "<p>h</p>"}, "subject must be a non-empty"),
        ({"subject": "a\nBcc: x@example.com", "text": "t", "html": "h"}, "single line"),
        ({"subject": "s", "text": "t"}, "html must be a non-empty"),
        (RenderedEmail(subject="s", text="t", html="x" * 200_000), "over the limit"),
    ],
)
def test_email_check_fails(email: Any, expected: str) -> None:
    result = validate("email", email)
    assert any(expected in error for error in result.errors), result.errors


def test_pasted_json() -> None:
    assert validate_json("dingtalk", '{"title": "x"').errors[0].startswith("not valid JSON")
    pasted = validate_json("lark", '{"schema": "2.0"}')
    assert not pasted.ok and pasted.limit == LARK_CARD_LIMIT and pasted.size > 0
