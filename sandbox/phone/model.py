"""What the phone preview draws: a card reduced to header, blocks and buttons.

Both platform readers produce these; the ``phone_card.html.j2`` template draws them.
All text is plain (markup already undone); the template escapes it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

_BACKSLASH: Final = re.compile(r"\\(.)")
_CODE: Final = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Span:
    """A run of text: bold or not, inline code or not."""

    text: str
    bold: bool = False
    code: bool = False


@dataclass(frozen=True)
class Button:
    """A button: submits ``action`` inside a form, or opens ``url`` (None: inert)."""

    label: str
    kind: str  # primary | danger | default
    action: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Block:
    """One vertical piece of the card body."""

    kind: Literal["markdown", "hr", "form", "buttons", "picker"]
    lines: tuple[tuple[Span, ...], ...] = ()
    placeholder: str | None = None  # the comment input of a form, or the picker's
    buttons: tuple[Button, ...] = ()
    ref: str = ""  # what the form's buttons (or the picker) echo
    options: tuple[str, ...] = ()  # the picker's options as the card lists them (open_ids)


@dataclass(frozen=True)
class PhoneCard:
    """A whole card as drawn on the phone."""

    title: str
    subtitle: str
    color: str  # validated #RRGGBB
    tags: tuple[str, ...]
    blocks: tuple[Block, ...]


def spans(line: str, decode: Callable[[str], str]) -> tuple[Span, ...]:
    """Split one markdown line on ``**`` into plain and bold spans, decoded; a pair of
    backticks in the decoded text is drawn as inline code (ticket authors quote table and
    column names that way), never as markup: the code's text is escaped like any other."""
    found: list[Span] = []
    for i, part in enumerate(line.split("**")):
        if part:
            found += _code_spans(decode(part), bold=bool(i % 2))
    return tuple(found)


def _code_spans(text: str, *, bold: bool) -> list[Span]:
    pieces = _CODE.split(text)  # text, code, text, code, ..., text
    return [Span(p, bold, code=bool(i % 2)) for i, p in enumerate(pieces) if p]


def lark_markdown(text: str) -> tuple[tuple[Span, ...], ...]:
    """Lines of spans from Lark markdown (HTML entities decoded)."""
    return tuple(spans(line, html.unescape) for line in text.split("\n"))


def dingtalk_markdown(text: str) -> tuple[tuple[Span, ...], ...]:
    """Lines of spans from DingTalk markdown (backslash escapes and entities undone)."""
    lines = [line.rstrip() for line in text.split("\n")]
    return tuple(spans(line, _undo_dingtalk) for line in lines)


def _undo_dingtalk(text: str) -> str:
    return html.unescape(_BACKSLASH.sub(r"\1", text))
