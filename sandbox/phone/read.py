"""Readers that turn a platform payload into a :class:`PhoneCard`.

Payloads may be hand-edited or pasted, so anything unexpected is skipped rather
than raised on; :func:`cards.validate.validate` is the place that complains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from cards.actions import ACTION_KEY, REF_KEY
from cards.palette import TEMPLATE_COLORS
from cards.text import safe_url
from sandbox.phone.model import Block, Button, PhoneCard, dingtalk_markdown, lark_markdown

_HEX: Final = re.compile(r"#[0-9A-Fa-f]{6}")
DEFAULT_COLOR: Final = TEMPLATE_COLORS["default"]


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- Lark --------------------------------------------------------------------


def lark_card(card: Mapping[str, Any]) -> PhoneCard:
    """Read a Lark card JSON 2.0 object."""
    header = _get(card, "header")
    template = _str(_get(header, "template"))
    tags = [_str(_get(tag, "text", "content")) for tag in _list(_get(header, "text_tag_list"))]
    return PhoneCard(
        title=_str(_get(header, "title", "content")),
        subtitle=_str(_get(header, "subtitle", "content")),
        color=TEMPLATE_COLORS.get(template, DEFAULT_COLOR),
        tags=tuple(t for t in tags if t),
        blocks=tuple(_lark_blocks(_list(_get(card, "body", "elements")))),
    )


def _lark_blocks(elements: list[Any]) -> list[Block]:
    blocks: list[Block] = []
    for element in elements:
        blocks += _lark_block(element)
    return blocks


def _lark_block(element: Any) -> list[Block]:
    tag = _get(element, "tag")
    if tag == "markdown":
        return [Block(kind="markdown", lines=lark_markdown(_str(_get(element, "content"))))]
    if tag == "hr":
        return [Block(kind="hr")]
    if tag == "form":
        return [_lark_form(_flatten(_list(_get(element, "elements"))))]
    if tag == "button":
        return [_standalone(element)]
    if tag == "column_set":
        return _lark_blocks(_flatten(_list(_get(element, "columns"))))
    if tag == "select_person":  # a person picker (Lark's select_person): pick to hand over
        placeholder = _str(_get(element, "placeholder", "content"))
        options = tuple(_str(_get(o, "value")) for o in _list(_get(element, "options")))
        ref = _str(_callback(element).get(REF_KEY))
        return [Block(kind="picker", placeholder=placeholder, ref=ref, options=options)]
    return []


def _flatten(elements: list[Any]) -> list[Any]:
    """Children of columns and column sets, in reading order."""
    flat: list[Any] = []
    for element in elements:
        if _get(element, "tag") in ("column", "column_set"):
            children = _get(element, "elements") or _get(element, "columns")
            flat += _flatten(_list(children))
        else:
            flat.append(element)
    return flat


def _lark_form(elements: list[Any]) -> Block:
    inputs = [e for e in elements if _get(e, "tag") == "input"]
    buttons = [_lark_button(e) for e in elements if _get(e, "tag") == "button"]
    placeholder = _str(_get(inputs[0], "placeholder", "content")) if inputs else None
    refs = [_callback(e).get(REF_KEY) for e in elements if _get(e, "tag") == "button"]
    ref = next((r for r in refs if isinstance(r, str)), "")
    return Block(kind="form", placeholder=placeholder, buttons=tuple(buttons), ref=ref)


def _standalone(element: Any) -> Block:
    button = _lark_button(element)
    if button.action is None:
        return Block(kind="buttons", buttons=(button,))
    # a callback button outside a form still posts, just without a comment
    return Block(kind="form", buttons=(button,), ref=_str(_callback(element).get(REF_KEY)))


def _behaviors(element: Any) -> list[Mapping[str, Any]]:
    return [b for b in _list(_get(element, "behaviors")) if isinstance(b, Mapping)]


def _callback(element: Any) -> Mapping[str, Any]:
    values = [b.get("value") for b in _behaviors(element) if b.get("type") == "callback"]
    return next((v for v in values if isinstance(v, Mapping)), {})


def _lark_button(element: Any) -> Button:
    urls = [_str(b.get("default_url")) for b in _behaviors(element) if b.get("type") == "open_url"]
    action = _callback(element).get(ACTION_KEY)
    return Button(
        label=_str(_get(element, "text", "content")),
        kind=_kind(_str(_get(element, "type"))),
        action=action if isinstance(action, str) else None,
        url=safe_url(urls[0]) if urls else None,
    )


def _kind(lark_type: str) -> str:
    if lark_type.startswith("primary"):
        return "primary"
    return "danger" if lark_type.startswith("danger") else "default"


# --- DingTalk ----------------------------------------------------------------


def dingtalk_card(params: Mapping[str, Any]) -> PhoneCard:
    """Read a cardParamMap the way the approval card template lays it out."""
    get = _reader(params)
    blocks = [Block(kind="markdown", lines=dingtalk_markdown(get("markdown")))]
    if get("showActions") == "true":
        blocks.append(_dingtalk_form(get))
    if get("showConsole") == "true":
        console = Button(get("consoleText"), "default", url=safe_url(get("consoleUrl")))
        blocks.append(Block(kind="buttons", buttons=(console,)))
    color = get("headerColor")
    return PhoneCard(
        title=get("title"),
        subtitle=get("statusText"),
        color=color if _HEX.fullmatch(color) else DEFAULT_COLOR,
        tags=("TEST",) if get("isTest") == "true" else (),
        blocks=tuple(blocks),
    )


def _reader(params: Mapping[str, Any]) -> Callable[[str], str]:
    def get(key: str) -> str:
        return _str(_get(params, key))

    return get


def _dingtalk_form(get: Callable[[str], str]) -> Block:
    buttons = (
        Button(get("approveText"), "primary", action=get("approveAction")),
        Button(get("rejectText"), "danger", action=get("rejectAction")),
    )
    return Block(
        kind="form", placeholder=get("commentPlaceholder"), buttons=buttons, ref=get("actionRef")
    )
