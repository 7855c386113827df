"""Lark/Feishu card JSON 2.0 for an :class:`ApprovalView`.

Card JSON 2.0 rejects unknown attributes, so only documented ones are used:
``markdown``, ``hr``, ``form`` with ``input`` and submit ``button``s inside a
``column_set``, and an ``open_url`` button to the console.
"""

from __future__ import annotations

from typing import Any, Final

from cards.actions import COMMENT_FIELD, COMMENT_MAX_LENGTH, button_value
from cards.budget import LARK_CARD_LIMIT, Budget, fit, json_size
from cards.content import Actions, Content, build_content, decision_rows, meta_rows
from cards.palette import LARK_TEMPLATES
from cards.text import escape_lark as esc
from cards.view import ApprovalView, CardState

FORM_NAME: Final = "approval_form"
APPROVE_BUTTON: Final = "approve_button"
REJECT_BUTTON: Final = "reject_button"
CONSOLE_BUTTON: Final = "console_button"


def render_lark(view: ApprovalView) -> dict[str, Any]:
    """The card JSON 2.0 object for ``view``, at most :data:`LARK_CARD_LIMIT` bytes."""

    def build(budget: Budget) -> dict[str, Any]:
        return _card(build_content(view, budget))

    return fit(build, json_size, LARK_CARD_LIMIT)


def _card(content: Content) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {
            "update_multi": True,
            # an approval card is personal: a forwarded copy would only confuse
            "enable_forward": False,
            "summary": {"content": content.title},
        },
        "header": _header(content),
        "body": {"elements": _elements(content)},
    }


def _plain(text: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": text}


def _header(content: Content) -> dict[str, Any]:
    header: dict[str, Any] = {
        "title": _plain(content.title),
        "subtitle": _plain(content.status),
        "template": LARK_TEMPLATES[content.state],
    }
    if content.state is CardState.TEST:
        tag = {"tag": "text_tag", "text": _plain(content.text.test_tag), "color": "violet"}
        header["text_tag_list"] = [tag]
    return header


def _markdown(text: str) -> dict[str, str]:
    return {"tag": "markdown", "content": text}


def _elements(content: Content) -> list[dict[str, Any]]:
    elements = [_markdown(block) for block in _blocks(content) if block]
    elements.append({"tag": "hr"})
    if content.actions is not None:
        elements.append(_form(content, content.actions))
    if content.console_url is not None:
        elements.append(_console_button(content, content.console_url))
    return elements


def _blocks(content: Content) -> list[str]:
    return [
        esc(content.summary),
        _rows(list(content.fields)),
        _rows(meta_rows(content)),
        _rows(decision_rows(content)),
        "\n".join(f"**{esc(notice)}**" for notice in content.notices),
    ]


def _rows(rows: list[tuple[str, str]]) -> str:
    return "\n".join(f"**{esc(label)}**: {esc(value)}" for label, value in rows)


def _form(content: Content, actions: Actions) -> dict[str, Any]:
    t = content.text
    approve = _submit(
        APPROVE_BUTTON, t.approve, "primary", button_value(actions.approve, actions.ref)
    )
    reject = _submit(REJECT_BUTTON, t.reject, "danger", button_value(actions.reject, actions.ref))
    comment = {
        "tag": "input",
        "name": COMMENT_FIELD,
        "placeholder": _plain(t.comment_placeholder),
        "max_length": COMMENT_MAX_LENGTH,
    }
    buttons = {
        "tag": "column_set",
        "flex_mode": "none",
        "columns": [_column(approve), _column(reject)],
    }
    return {"tag": "form", "name": FORM_NAME, "elements": [comment, buttons]}


def _column(element: dict[str, Any]) -> dict[str, Any]:
    return {"tag": "column", "width": "auto", "elements": [element]}


def _submit(name: str, label: str, kind: str, value: dict[str, str]) -> dict[str, Any]:
    return {
        "tag": "button",
        "name": name,
        "text": _plain(label),
        "type": kind,
        "form_action_type": "submit",
        "behaviors": [{"type": "callback", "value": value}],
    }


def _console_button(content: Content, url: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "name": CONSOLE_BUTTON,
        "text": _plain(content.text.open_console),
        "type": "default",
        "behaviors": [{"type": "open_url", "default_url": url}],
    }
