"""The button/click contract shared by every card and every channel.

Each interactive button carries the object value ``{"action": ..., "ref": ...}``
and the free-text input is named ``comment``. Lark returns the value as
``action.value`` and the input as ``action.form_value``; DingTalk returns both in
one ``params`` map. :func:`parse_click` reads either.

A Lark card also carries a person picker (``select_person``) with the value
``{"action": "hand_over", "ref": ...}``; its callback names the picked person's
open_id in ``action.option``, which :func:`parse_click` takes as ``option``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict

ClickAction = Literal["approve", "reject", "test", "hand_over"]

ACTION_KEY: Final = "action"
REF_KEY: Final = "ref"
COMMENT_FIELD: Final = "comment"

APPROVE: Final = "approve"
REJECT: Final = "reject"
TEST: Final = "test"
HAND_OVER: Final = "hand_over"
ACTIONS: Final[frozenset[str]] = frozenset(get_args(ClickAction))

# Lark's input accepts at most 1000 characters; DingTalk uses the same figure.
COMMENT_MAX_LENGTH: Final = 1000
# Lark open_ids are ``ou_`` and 32 hex digits; anything much longer is not one.
OPTION_MAX_LENGTH: Final = 128
# A ref is echoed on every button; a longer one would eat the card's size budget.
REF_MAX_LENGTH: Final = 256


class Click(BaseModel):
    """One Approve/Reject/Test click, or a hand-over pick, read back from a platform callback."""

    model_config = ConfigDict(frozen=True)

    action: ClickAction
    ref: str
    comment: str | None = None
    to: str | None = None  # hand_over: the picked person's id on the platform (Lark: open_id)


def button_value(action: ClickAction, ref: str) -> dict[str, str]:
    """The value a button carries: the only shape :func:`parse_click` accepts."""
    return {ACTION_KEY: action, REF_KEY: ref}


def ref_is_usable(ref: str) -> bool:
    """Whether ``ref`` can be put on buttons (non-empty and within the size budget)."""
    return 0 < len(ref) <= REF_MAX_LENGTH and ref.strip() == ref


def parse_click(
    value: Mapping[str, Any], form_value: Mapping[str, Any] | None, option: Any = None
) -> Click | None:
    """Read a click; None when ``value`` was not put on a button (or picker) by this package.

    ``form_value`` is Lark's ``action.form_value``; for DingTalk pass ``params`` as
    ``value`` and None, the comment is then read from ``value`` itself. ``option`` is
    Lark's ``action.option``: a hand-over pick without one is not a pick.
    """
    if not isinstance(value, Mapping):
        return None
    action, ref = value.get(ACTION_KEY), value.get(REF_KEY)
    if action not in ACTIONS or not isinstance(ref, str) or not ref_is_usable(ref):
        return None
    if action == HAND_OVER:
        picked = _picked(option)
        return None if picked is None else Click(action=HAND_OVER, ref=ref, to=picked)
    source = form_value if form_value is not None else value
    return Click.model_validate({"action": action, "ref": ref, "comment": _comment(source)})


def _picked(option: Any) -> str | None:
    if not isinstance(option, str) or not 0 < len(option) <= OPTION_MAX_LENGTH:
        return None
    return option if option.strip() == option else None


def _comment(source: Mapping[str, Any]) -> str | None:
    raw = source.get(COMMENT_FIELD) if isinstance(source, Mapping) else None
    if not isinstance(raw, str):
        return None
    return raw.strip() or None
