"""Pure card rendering: an :class:`ApprovalView` in, a Lark / DingTalk / email payload out.

No I/O happens here; templates are package data loaded with importlib.resources.
"""

from cards.view import ApprovalView, CardState, Locale, ViewDecision, ViewField

__all__ = ["ApprovalView", "CardState", "Locale", "ViewDecision", "ViewField"]
