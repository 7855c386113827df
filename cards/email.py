"""The email fallback: subject, plain text and HTML with a link to the console.

Email carries no Approve/Reject buttons: deciding happens in the console.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from cards.budget import EMAIL_HTML_LIMIT, EMAIL_LADDER, Budget, fit
from cards.content import (
    INTERACTIVE,
    Content,
    build_content,
    code_fence,
    decision_rows,
    field_rows,
    meta_rows,
)
from cards.palette import STATE_COLORS, TEMPLATE_COLORS
from cards.templating import html_env, text_env
from cards.view import ApprovalView, CardState

RISK_COLORS = {
    "low": TEMPLATE_COLORS["green"],
    "medium": TEMPLATE_COLORS["orange"],
    "high": TEMPLATE_COLORS["red"],
}


class RenderedEmail(BaseModel):
    """One email: a single-line subject, a plain-text body and an HTML body."""

    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str


def render_email(view: ApprovalView) -> RenderedEmail:
    """The email for ``view``; its HTML stays under :data:`EMAIL_HTML_LIMIT` bytes."""

    def build(budget: Budget) -> RenderedEmail:
        return _email(build_content(view, budget))

    return fit(build, html_size, EMAIL_HTML_LIMIT, EMAIL_LADDER)


def html_size(email: RenderedEmail) -> int:
    """Bytes of the HTML body, the part mail clients clip."""
    return len(email.html.encode("utf-8"))


def _email(content: Content) -> RenderedEmail:
    context = _context(content)
    return RenderedEmail(
        subject=context["subject"],
        text=text_env().get_template("email.txt.j2").render(context),
        html=html_env().get_template("email.html.j2").render(context),
    )


def _context(content: Content) -> dict[str, Any]:
    t = content.text
    # content.title is already one line, so the subject cannot inject headers
    return {
        "c": content,
        "t": t,
        "subject": f"{t.subject_tags[content.state]} {content.title}",
        "lead": _lead(content),
        "meta": meta_rows(content),
        "fields": field_rows(content),
        "risk_colors": RISK_COLORS,
        "fence": code_fence,
        "decision": decision_rows(content),
        "color": STATE_COLORS[content.state],
        "lang": content.locale.value,
    }


def _lead(content: Content) -> str:
    if content.state in INTERACTIVE or content.state is CardState.FAILED:
        return content.text.email_pending
    return content.text.email_closed
