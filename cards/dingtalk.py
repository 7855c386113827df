"""DingTalk card data: the ``cardParamMap`` for the approval card template.

The template itself is built in DingTalk's card builder; its definition ships as
``templates/dingtalk_approval_card.json`` and documents every key produced here.
``cardParamMap`` is string to string, so flags are ``"true"``/``"false"``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

from cards.actions import APPROVE, REJECT
from cards.budget import DINGTALK_CARD_LIMIT, Budget, fit, json_size
from cards.content import Content, build_content, code_fence, decision_rows, field_rows, meta_rows
from cards.palette import STATE_COLORS, TEMPLATE_COLORS
from cards.text import escape_dingtalk as esc
from cards.view import ApprovalView, CardState, FieldKind

TEMPLATE_FILE: Final = "dingtalk_approval_card.json"
RISK_COLORS: Final = {
    "low": TEMPLATE_COLORS["green"],
    "medium": TEMPLATE_COLORS["orange"],
    "high": TEMPLATE_COLORS["red"],
}

# Every key render_dingtalk() produces; the template definition lists the same.
PARAM_KEYS: Final = (
    "locale",
    "state",
    "ticketId",
    "title",
    "statusText",
    "headerColor",
    "isTest",
    "markdown",
    "showActions",
    "approveText",
    "rejectText",
    "approveAction",
    "rejectAction",
    "actionRef",
    "commentPlaceholder",
    "showConsole",
    "consoleUrl",
    "consoleText",
)


def render_dingtalk(view: ApprovalView) -> dict[str, str]:
    """The ``cardParamMap`` for ``view``, at most :data:`DINGTALK_CARD_LIMIT` bytes."""

    def build(budget: Budget) -> dict[str, str]:
        return _params(build_content(view, budget))

    return fit(build, json_size, DINGTALK_CARD_LIMIT)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _params(content: Content) -> dict[str, str]:
    t, actions = content.text, content.actions
    is_test = content.state is CardState.TEST
    return {
        "locale": content.locale.value,
        "state": content.state.value,
        "ticketId": content.ticket_id,
        "title": f"[{t.test_tag}] {content.title}" if is_test else content.title,
        "statusText": content.status,
        "headerColor": STATE_COLORS[content.state],
        "isTest": _flag(is_test),
        "markdown": markdown(content),
        "showActions": _flag(actions is not None),
        "approveText": t.approve,
        "rejectText": t.reject,
        "approveAction": actions.approve if actions else APPROVE,
        "rejectAction": actions.reject if actions else REJECT,
        "actionRef": actions.ref if actions else "",
        "commentPlaceholder": t.comment_placeholder,
        "showConsole": _flag(content.console_url is not None),
        "consoleUrl": content.console_url or "",
        "consoleText": t.open_console,
    }


def markdown(content: Content) -> str:
    """The card body: summary, fields, ticket facts, decision and notices."""
    blocks = [
        _multiline(esc(content.summary)),
        _lines([esc(line) for line in content.progress]),
        *_fields(content),
        _rows(meta_rows(content)),
        _rows(decision_rows(content)),
        _lines([f"**{esc(n)}**" for n in content.notices]),
    ]
    # a blank line separates paragraphs; CommonMark would join single newlines
    return "\n\n".join(b for b in blocks if b)


def _fields(content: Content) -> list[str]:
    blocks: list[str] = []
    text: list[tuple[str, str]] = []  # consecutive text fields share one paragraph
    for name, value, kind in field_rows(content):
        if kind is FieldKind.TEXT:
            text.append((name, value))
            continue
        blocks += [_rows(text)] if text else []
        text = []
        blocks.append(_code(name, value) if kind is FieldKind.CODE else _risk(content, name, value))
    return [*blocks, _rows(text)] if text else blocks


def _code(name: str, code: str) -> str:
    # DingTalk's card markdown has no collapsible part: a long block is only cut by the budget
    fence = code_fence(code)
    return f"**{esc(name)}**:\n\n{fence}\n{code}\n{fence}"


def _risk(content: Content, name: str, level: str) -> str:
    label = esc(content.text.risk.get(level, level))
    color = RISK_COLORS.get(level)
    value = f'<font color="{color}">**{label}**</font>' if color else label
    return f"**{esc(name)}**: {value}"


def _multiline(text: str) -> str:
    return text.replace("\n", "  \n")


def _lines(lines: list[str]) -> str:
    return "  \n".join(_multiline(line) for line in lines)


def _rows(rows: list[tuple[str, str]]) -> str:
    return _lines([f"**{esc(label)}**: {esc(value)}" for label, value in rows])


def template_definition() -> dict[str, Any]:
    """The card template definition shipped as ``templates/dingtalk_approval_card.json``."""
    raw = resources.files("cards").joinpath("templates", TEMPLATE_FILE).read_text("utf-8")
    definition: dict[str, Any] = json.loads(raw)
    return definition
