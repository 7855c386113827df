"""Checks a payload against the platform limits and this package's own schema.

Works on what the renderers return and on JSON a support person pastes
(:func:`validate_json`). Every problem found is reported, not just the first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from cards.actions import ACTION_KEY, ACTIONS, COMMENT_FIELD, REF_KEY, ref_is_usable
from cards.budget import DINGTALK_CARD_LIMIT, EMAIL_HTML_LIMIT, LARK_CARD_LIMIT, json_size
from cards.dingtalk import PARAM_KEYS
from cards.lark import lark_body_size
from cards.text import safe_url
from cards.view import CardState, Locale

Channel = Literal["lark", "dingtalk", "email"]

# The element tags our Lark cards use; anything else is not ours.
LARK_TAGS: Final = frozenset(
    {
        "markdown",
        "hr",
        "form",
        "input",
        "button",
        "column_set",
        "column",
        "collapsible_panel",
        "select_person",
    }
)
_FLAGS: Final = ("isTest", "showActions", "showConsole")


class ValidationResult(BaseModel):
    """Outcome of :func:`validate`: errors (empty when ok), measured size and its limit."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    errors: tuple[str, ...]
    size: int
    limit: int


def validate(channel: Channel, payload: Any) -> ValidationResult:
    """Check ``payload`` (a card dict, a cardParamMap, or a RenderedEmail/mapping)."""
    if channel == "lark":
        return _result(_lark_errors(payload), _json_size(payload, lark_body_size), LARK_CARD_LIMIT)
    if channel == "dingtalk":
        return _result(_dingtalk_errors(payload), _json_size(payload), DINGTALK_CARD_LIMIT)
    email = _email_parts(payload)
    html = email.get("html")
    size = len(html.encode("utf-8")) if isinstance(html, str) else 0
    return _result(_email_errors(email), size, EMAIL_HTML_LIMIT)


def validate_json(channel: Channel, raw: str | bytes) -> ValidationResult:
    """Like :func:`validate`, for pasted JSON text; broken JSON is reported as an error."""
    try:
        payload = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both
        return _result([f"not valid JSON: {exc}"], len(raw), _limit(channel))
    return validate(channel, payload)


def _limit(channel: Channel) -> int:
    limits = {"lark": LARK_CARD_LIMIT, "dingtalk": DINGTALK_CARD_LIMIT}
    return limits.get(channel, EMAIL_HTML_LIMIT)


def _result(errors: list[str], size: int, limit: int) -> ValidationResult:
    if size > limit:
        errors = [*errors, f"size {size} bytes is over the limit of {limit}"]
    return ValidationResult(ok=not errors, errors=tuple(errors), size=size, limit=limit)


def _json_size(payload: Any, measure: Callable[[Any], int] = json_size) -> int:
    try:
        return measure(payload)
    except (TypeError, ValueError):
        return 0  # reported as a schema error; there is nothing to measure


# --- Lark --------------------------------------------------------------------


def _lark_errors(card: Any) -> list[str]:
    if not isinstance(card, Mapping):
        return ["card must be a JSON object"]
    errors = []
    if card.get("schema") != "2.0":
        errors.append('schema must be "2.0"')
    config = card.get("config")
    if not isinstance(config, Mapping) or config.get("update_multi") is not True:
        errors.append("config.update_multi must be true")
    if not _plain_text(_get(card, "header", "title")):
        errors.append("header.title must be a non-empty plain_text")
    elements = _get(card, "body", "elements")
    if not isinstance(elements, list):
        return [*errors, "body.elements must be a list"]
    return errors + _elements_errors(elements, "body.elements")


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _plain_text(value: Any) -> bool:
    return _get(value, "tag") == "plain_text" and bool(_get(value, "content"))


def _elements_errors(elements: list[Any], path: str) -> list[str]:
    errors = []
    for index, element in enumerate(elements):
        errors += _element_errors(element, f"{path}[{index}]")
    return errors


def _element_errors(element: Any, path: str) -> list[str]:
    tag = _get(element, "tag")
    if tag not in LARK_TAGS:
        return [f"{path}: unknown tag {tag!r}"]
    errors = []
    for key in ("elements", "columns"):
        children = element.get(key)
        if children is not None:
            if not isinstance(children, list):
                errors.append(f"{path}.{key} must be a list")
                continue
            errors += _elements_errors(children, f"{path}.{key}")
    if tag == "input" and element.get("name") != COMMENT_FIELD:
        errors.append(f"{path}: input must be named {COMMENT_FIELD!r}")
    if tag in ("button", "select_person"):  # both call back with a value of the contract
        errors += _button_errors(element, path)
    return errors


def _button_errors(button: Mapping[str, Any], path: str) -> list[str]:
    behaviors = button.get("behaviors")
    if not isinstance(behaviors, list) or not behaviors:
        return [f"{path}: {button.get('tag')} needs behaviors"]
    errors = []
    for index, behavior in enumerate(behaviors):
        errors += _behavior_errors(behavior, f"{path}.behaviors[{index}]")
    return errors


def _behavior_errors(behavior: Any, path: str) -> list[str]:
    kind = _get(behavior, "type")
    if kind == "open_url":
        url = _get(behavior, "default_url")
        ok = isinstance(url, str) and safe_url(url) is not None
        return [] if ok else [f"{path}: open_url needs an http(s) default_url"]
    if kind == "callback":
        problem = contract_problem(_get(behavior, "value"))
        return [f"{path}: {problem}"] if problem else []
    return [f"{path}: unknown behavior type {kind!r}"]


def contract_problem(value: Any) -> str | None:
    """Why ``value`` is not a button value of the click contract, or None if it is."""
    if not isinstance(value, Mapping) or set(value) != {ACTION_KEY, REF_KEY}:
        return f"callback value must be an object with exactly {ACTION_KEY!r} and {REF_KEY!r}"
    if value[ACTION_KEY] not in ACTIONS:
        return f"callback action must be one of {sorted(ACTIONS)}"
    ref = value[REF_KEY]
    if not isinstance(ref, str) or not ref_is_usable(ref):
        return "callback ref must be a non-empty string of at most 256 characters"
    return None


# --- DingTalk ----------------------------------------------------------------


def _dingtalk_errors(params: Any) -> list[str]:
    if not isinstance(params, Mapping):
        return ["cardParamMap must be a JSON object"]
    errors = [
        f"{key!r}: value must be a string" for key, v in params.items() if not isinstance(v, str)
    ]
    errors += [f"missing key {key!r}" for key in PARAM_KEYS if key not in params]
    if errors:
        return errors
    return _dingtalk_value_errors(params)


def _dingtalk_value_errors(params: Mapping[str, str]) -> list[str]:
    errors = [
        f"{key} must be 'true' or 'false'" for key in _FLAGS if params[key] not in ("true", "false")
    ]
    if params["state"] not in {s.value for s in CardState}:
        errors.append(f"unknown state {params['state']!r}")
    if params["locale"] not in {loc.value for loc in Locale}:
        errors.append(f"unknown locale {params['locale']!r}")
    if params["showActions"] == "true":
        for key in ("approveAction", "rejectAction"):
            value = {ACTION_KEY: params[key], REF_KEY: params["actionRef"]}
            problem = contract_problem(value)
            errors += [f"{key}/actionRef: {problem}"] if problem else []
    if params["showConsole"] == "true" and safe_url(params["consoleUrl"]) is None:
        errors.append("consoleUrl must be an http(s) URL when showConsole is true")
    return errors


# --- email -------------------------------------------------------------------


def _email_parts(email: Any) -> dict[str, Any]:
    if isinstance(email, BaseModel):
        return email.model_dump()
    return dict(email) if isinstance(email, Mapping) else {}


def _email_errors(email: Mapping[str, Any]) -> list[str]:
    errors = [
        f"{part} must be a non-empty string"
        for part in ("subject", "text", "html")
        if not isinstance(email.get(part), str) or not email[part].strip()
    ]
    subject = email.get("subject")
    if isinstance(subject, str) and ("\n" in subject or "\r" in subject):
        errors.append("subject must be a single line")
    return errors
