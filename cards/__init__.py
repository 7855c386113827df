"""Pure card rendering: an :class:`ApprovalView` in, a Lark / DingTalk / email payload out.

No I/O happens here; templates are package data loaded with importlib.resources.
"""

from cards.actions import Click, parse_click
from cards.budget import DINGTALK_CARD_LIMIT, EMAIL_HTML_LIMIT, LARK_CARD_LIMIT
from cards.content import takes_clicks
from cards.dingtalk import render_dingtalk
from cards.email import RenderedEmail, render_email
from cards.lark import render_lark
from cards.samples import sample_view
from cards.validate import ValidationResult, validate, validate_json
from cards.view import (
    ApprovalView,
    CardState,
    FieldKind,
    Locale,
    ViewDecision,
    ViewField,
    ViewProgress,
    ViewVote,
)

__all__ = [
    "DINGTALK_CARD_LIMIT",
    "EMAIL_HTML_LIMIT",
    "LARK_CARD_LIMIT",
    "ApprovalView",
    "CardState",
    "Click",
    "FieldKind",
    "Locale",
    "RenderedEmail",
    "ValidationResult",
    "ViewDecision",
    "ViewField",
    "ViewProgress",
    "ViewVote",
    "parse_click",
    "render_dingtalk",
    "render_email",
    "render_lark",
    "sample_view",
    "takes_clicks",
    "validate",
    "validate_json",
]
