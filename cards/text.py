"""Untrusted ticket text made safe: cleaned, truncated, escaped per platform.

Lark markdown decodes HTML numeric entities, so every character with a markdown
or tag meaning becomes ``&#NN;`` and renders as itself. DingTalk's markdown is
CommonMark-like: punctuation gets a backslash, and ``<``/``>``/``&`` become
entities because a backslash does not stop an HTML-ish tag there. ``:`` and
``.`` are escaped too, so a bare ``http://host.example`` is never auto-linked.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

ELLIPSIS: Final = "…"

# Everything CommonMark gives a meaning to, plus ":" (autolinks, Lark emoji codes).
_MARKDOWN_PUNCTUATION: Final = frozenset("\\`*_{}[]()<>#+-.!|~:&$=")
_DINGTALK_ENTITIES: Final = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
URL_MAX_LENGTH: Final = 2048


def clean(text: str) -> str:
    """Drop control characters and lone surrogates; keep newlines and tabs.

    Lone surrogates cannot be encoded as UTF-8, so they would break serialization.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(_clean_char(ch) for ch in text)


def _clean_char(ch: str) -> str:
    if ch in "\n\t":
        return ch
    category = unicodedata.category(ch)
    if category == "Cs":
        return "\ufffd"
    # Cc/Cf include bidi overrides that can disguise text; Zl/Zp are stray line breaks.
    return "" if category in ("Cc", "Cf", "Zl", "Zp") else ch


def one_line(text: str) -> str:
    """Clean ``text`` and collapse all whitespace (newlines too) into single spaces."""
    return " ".join(clean(text).split())


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``limit`` characters, ending with an ellipsis when cut.

    Returns the text and whether it was cut.
    """
    if len(text) <= limit:
        return text, False
    if limit <= 0:
        return "", True
    return text[: limit - 1].rstrip() + ELLIPSIS, True


def escape_lark(text: str) -> str:
    """Escape text for a Lark ``markdown`` element: it renders literally."""
    return "".join(f"&#{ord(ch)};" if ch in _MARKDOWN_PUNCTUATION else ch for ch in text)


def escape_dingtalk(text: str) -> str:
    """Escape text for DingTalk card markdown: it renders literally."""
    return "".join(_escape_dingtalk_char(ch) for ch in text)


def _escape_dingtalk_char(ch: str) -> str:
    if ch in _DINGTALK_ENTITIES:
        return _DINGTALK_ENTITIES[ch]
    return "\\" + ch if ch in _MARKDOWN_PUNCTUATION else ch


def safe_url(url: str) -> str | None:
    """``url`` if it is a plain http(s) URL a button may open, else None.

    Anything else (``javascript:``, spaces, quotes, non-ASCII, very long) is
    refused rather than repaired: the console builds these URLs itself.
    """
    if len(url) > URL_MAX_LENGTH or not _URL.fullmatch(url):
        return None
    return url
