"""Lark/Feishu card JSON 2.0 for an :class:`ApprovalView`.

Card JSON 2.0 rejects unknown attributes, so only documented ones are used:
``markdown``, ``hr``, ``form`` with ``input`` and submit ``button``s inside a
``column_set``, a ``select_person`` to hand a pending request over to a colleague, and an
``open_url`` button to the console.
"""

from __future__ import annotations

import json
from typing import Any, Final

from cards.actions import COMMENT_FIELD, COMMENT_MAX_LENGTH, HAND_OVER, button_value
from cards.budget import LARK_CARD_LIMIT, Budget, fit
from cards.content import (
    Actions,
    Content,
    build_content,
    code_fence,
    decision_rows,
    field_rows,
    meta_rows,
)
from cards.palette import LARK_TEMPLATES
from cards.text import escape_lark as esc
from cards.view import ApprovalView, CardState, FieldKind

FORM_NAME: Final = "approval_form"
APPROVE_BUTTON: Final = "approve_button"
REJECT_BUTTON: Final = "reject_button"
CONSOLE_BUTTON: Final = "console_button"
HAND_OVER_PICKER: Final = "hand_over_picker"
# A code field longer than this goes into a collapsed panel (card JSON 2.0 collapsible_panel).
CODE_FOLD_LINES: Final = 6
CODE_FOLD_CHARS: Final = 400
RISK_COLORS: Final = {"low": "green", "medium": "orange", "high": "red"}
# Room in a request body for everything but the card: a send's receive_id (an email address
# is at most 254 bytes), msg_type, uuid (at most 50) and the keys; a PATCH has only "content",
# a delayed update "token" (c-..., tens of bytes) and the card as an object.
LARK_BODY_ROOM: Final = 512


def render_lark(view: ApprovalView) -> dict[str, Any]:
    """The card JSON 2.0 object for ``view``, sent in a body of at most
    :data:`LARK_CARD_LIMIT` bytes (:func:`lark_body_size`)."""
    return _fitted(view)[0]


def render_lark_content(view: ApprovalView) -> str:
    """:func:`render_lark` as a message's ``content`` (:func:`lark_content`): the card JSON
    written once, when its size was checked, not again for the message."""
    return _fitted(view)[1]


Drawn = tuple[dict[str, Any], str]  # a card and its content string


def _fitted(view: ApprovalView) -> Drawn:
    def build(budget: Budget) -> Drawn:
        # Short of room the hand-over picker goes first, before any ticket text: the card's
        # content matters more than a convenience the API also offers.
        content = build_content(view, budget)
        drawn = _drawn(_card(content, view.hand_over_to))
        if view.hand_over_to and _body_size(drawn) > LARK_CARD_LIMIT:
            return _drawn(_card(content, ()))
        return drawn

    return fit(build, _body_size, LARK_CARD_LIMIT)


def _drawn(card: dict[str, Any]) -> Drawn:
    return card, lark_content(card)


def _body_size(drawn: Drawn) -> int:
    return len(lark_json(drawn[1])) + LARK_BODY_ROOM


def lark_json(value: Any) -> bytes:
    """``value`` as the Lark channel writes it on the wire: compact JSON in UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def lark_content(card: dict[str, Any]) -> str:
    """A message's ``content``: the card JSON as a string."""
    return lark_json(card).decode("utf-8")


def lark_body_size(card: dict[str, Any]) -> int:
    """Bytes of the largest request body that carries ``card`` as the channel sends it.

    In a send or a PATCH the card is ``content``, a JSON string inside the JSON body, so each
    quote and backslash of the card JSON is escaped once more; a delayed update carries the
    card as an object, which is never larger.
    """
    return _body_size(_drawn(card))


def _card(content: Content, offered: tuple[str, ...]) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {
            "update_multi": True,
            # an approval card is personal: a forwarded copy would only confuse
            "enable_forward": False,
            "summary": {"content": content.title},
        },
        "header": _header(content),
        "body": {"elements": _elements(content, offered)},
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


def _elements(content: Content, offered: tuple[str, ...]) -> list[dict[str, Any]]:
    elements = [_markdown(block) for block in _blocks(content)[:1] if block]
    elements += [_markdown(block) for block in _progress(content) if block]
    elements += _fields(content)
    elements += [_markdown(block) for block in _blocks(content)[2:] if block]
    elements.append({"tag": "hr"})
    if content.actions is not None:
        elements.append(_form(content, content.actions))
        if content.state is CardState.PENDING and offered:  # a test card hands nothing over
            elements.append(_picker(content, content.actions, offered))
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


def _progress(content: Content) -> list[str]:
    return ["\n".join(esc(line) for line in content.progress)]


def _fields(content: Content) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    text: list[tuple[str, str]] = []  # consecutive text fields share one markdown element
    for name, value, kind in field_rows(content):
        if kind is FieldKind.TEXT:
            text.append((name, value))
            continue
        elements += [_markdown(_rows(text))] if text else []
        text = []
        elements.append(
            _code(name, value) if kind is FieldKind.CODE else _risk(content, name, value)
        )
    return elements + ([_markdown(_rows(text))] if text else [])


def _code(name: str, code: str) -> dict[str, Any]:
    fence = code_fence(code)
    block = _markdown(f"{fence}\n{code}\n{fence}")
    if code.count("\n") < CODE_FOLD_LINES and len(code) <= CODE_FOLD_CHARS:
        return _markdown(f"**{esc(name)}**:\n{fence}\n{code}\n{fence}")
    return {
        "tag": "collapsible_panel",
        "expanded": False,
        "header": {"title": _plain(name)},
        "elements": [block],
    }


def _risk(content: Content, name: str, level: str) -> dict[str, str]:
    label = content.text.risk.get(level, level)
    color = RISK_COLORS.get(level, "neutral")
    return _markdown(f"**{esc(name)}**: <text_tag color='{color}'>{esc(label)}</text_tag>")


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


def _picker(content: Content, actions: Actions, offered: tuple[str, ...]) -> dict[str, Any]:
    # select_person (人员选择-单选, card JSON 2.0): outside the form, so a pick calls back at
    # once with the picked open_id in action.option. ``options`` is a list of {"value":
    # open_id}, shown in its order with the names Lark knows; without options (or with none
    # valid) Lark offers the members of the card's chat, here the holder alone, so the card
    # always lists whom it offers (doc: card-json-v2-components/interactive-components/
    # single-select-user-picker, open.larksuite.com).
    return {
        "tag": "select_person",
        "name": HAND_OVER_PICKER,
        "placeholder": _plain(content.text.hand_over_placeholder),
        "width": "fill",
        "options": [{"value": open_id} for open_id in offered],
        "behaviors": [{"type": "callback", "value": button_value(HAND_OVER, actions.ref)}],
    }


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
