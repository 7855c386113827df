"""The button/click contract shared by every card and every channel.

Each interactive button carries the object value ``{"action": ..., "ref": ...}``
and the free-text input is named ``comment``. Lark returns the value as
``action.value`` and the input as ``action.form_value``; DingTalk returns both in
one ``params`` map. :func:`parse_click` reads either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict

ClickAction = Literal["approve", "reject", "test"]

ACTION_KEY: Final = "action"
REF_KEY: Final = "ref"
COMMENT_FIELD: Final = "comment"

APPROVE: Final = "approve"
REJECT: Final = "reject"
TEST: Final = "test"
ACTIONS: Final[frozenset[str]] = frozenset(get_args(ClickAction))

# Lark's input accepts at most 1000 characters; DingTalk uses the same figure.
COMMENT_MAX_LENGTH: Final = 1000
# A ref is echoed on every button; a longer one would eat the card's size budget.
REF_MAX_LENGTH: Final = 256


class Click(BaseModel):
    """One Approve/Reject/Test click read back from a platform callback."""

    model_config = ConfigDict(frozen=True)

    action: ClickAction
    ref: str
    comment: str | None = None


def button_value(action: ClickAction, ref: str) -> dict[str, str]:
    """The value a button carries: the only shape :func:`parse_click` accepts."""
    return {ACTION_KEY: action, REF_KEY: ref}


def ref_is_usable(ref: str) -> bool:
    """Whether ``ref`` can be put on buttons (non-empty and within the size budget)."""
    return 0 < len(ref) <= REF_MAX_LENGTH and ref.strip() == ref


def parse_click(value: Mapping[str, Any], form_value: Mapping[str, Any] | None) -> Click | None:
    """Read a click; None when ``value`` was not put on a button by this package.

    ``form_value`` is Lark's ``action.form_value``; for DingTalk pass ``params`` as
    ``value`` and None, the comment is then read from ``value`` itself.
    """
    if not isinstance(value, Mapping):
        return None
    action, ref = value.get(ACTION_KEY), value.get(REF_KEY)
    if action not in ACTIONS or not isinstance(ref, str) or not ref_is_usable(ref):
        return None
    source = form_value if form_value is not None else value
    return Click.model_validate({"action": action, "ref": ref, "comment": _comment(source)})


def _comment(source: Mapping[str, Any]) -> str | None:
    raw = source.get(COMMENT_FIELD) if isinstance(source, Mapping) else None
    if not isinstance(raw, str):
        return None
    return raw.strip() or None
