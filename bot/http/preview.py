"""``/preview``: every card's payload for each platform, its validation result and the email.

Support picks a state, a locale and the sample ticket or a pasted one (POSTed, since tickets
are long). The page is plain HTML: no script runs, and the Content-Security-Policy says so, so
even a renderer bug cannot turn ticket text into code. Pasted-ticket problems are shown on the
page, never as a 500.

How a chat card looks on a phone is not the product's to draw (``cards`` turns a view into
payloads, nothing more): a :class:`CardLook` plugged in beside the gateway draws it, the way the
embedded deployment plugs in the sandbox's phone drawing (``bot.app.launch.Additions``). Without
one, each platform shows its payload JSON and its check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from aiohttp import web
from markupsafe import Markup
from pydantic import BaseModel

from bot.core.intake import ApprovalRequest
from bot.errors import InvalidInput
from bot.http.pages import html_page
from bot.http.session import Caller, support_page
from bot.http.spec import BEARER, Answer, operation
from bot.ticket_view import parse_ticket, view_for
from cards import (
    ApprovalView,
    CardState,
    Locale,
    ValidationResult,
    render_dingtalk,
    render_email,
    render_lark,
    validate,
)


class CardLook(Protocol):
    """Draws a chat card as the platform's app shows it (an HTML fragment, every string escaped)."""

    def css(self) -> str:
        """The stylesheet the drawn cards need."""
        ...

    def draw(self, channel: Literal["lark", "dingtalk"], payload: Mapping[str, Any]) -> str:
        """``payload`` (Lark card JSON or a DingTalk cardParamMap) drawn, buttons disabled."""
        ...


CARD_LOOK = web.AppKey("card_look", CardLook)
routes = web.RouteTableDef()
E = TypeVar("E", CardState, Locale)

Shown = Literal["all", "lark", "dingtalk", "email"]
SHOWN: tuple[Shown, ...] = ("all", "lark", "dingtalk", "email")


class PreviewChoice(BaseModel):
    """The query of ``GET /preview`` (what the form's selects send); each has a default."""

    state: CardState | None = None
    locale: Locale | None = None
    channel: Shown | None = None


class PreviewForm(PreviewChoice):
    """The form of ``POST /preview``: the choice, and the sample or a pasted ticket."""

    source: Literal["sample", "pasted"] | None = None
    ticket: str | None = None


@dataclass
class Choice:
    """What the page was asked to show."""

    state: CardState = CardState.PENDING
    locale: Locale = Locale.ZH_CN
    channel: Shown = "all"
    pasted: str = ""  # the ticket textarea, echoed back so a typo is easy to fix
    use_pasted: bool = False


@dataclass
class PhoneCard:
    """One platform's card: drawn, raw, and checked."""

    channel: str
    label: str
    html: Markup | None  # None: no card look is plugged in
    raw: str
    result: ValidationResult


@dataclass
class EmailPreview:
    """The email fallback: subject, both bodies, and its check."""

    subject: str
    text: str
    html: str
    result: ValidationResult


@dataclass
class Page:
    """Everything the template draws."""

    choice: Choice
    error: str | None = None
    error_fields: dict[str, str] = field(default_factory=dict)
    phones: list[PhoneCard] = field(default_factory=list)
    email: EmailPreview | None = None


@routes.get("/preview")
@operation(
    "getPreview",
    "preview",
    "Every card's payloads and checks for the sample ticket (HTML)",
    BEARER,
    query=PreviewChoice,
    answers=[
        Answer(200, None, "the page", media="text/html"),
        Answer(422, None, "the page, naming the bad choice", media="text/html"),
    ],
    errors=(401, 403),
)
@support_page
async def preview_get(request: web.Request, caller: Caller) -> web.Response:
    """The preview of the sample ticket, chosen by query parameters."""
    return _answer(request.query, request.app.get(CARD_LOOK), caller)


@routes.post("/preview")
@operation(
    "postPreview",
    "preview",
    "Every card's payloads and checks for a pasted ticket (HTML form)",
    BEARER,
    body=PreviewForm,
    body_media="application/x-www-form-urlencoded",
    answers=[
        Answer(200, None, "the page", media="text/html"),
        Answer(422, None, "the page, naming the bad field", media="text/html"),
    ],
    errors=(401, 403),
)
@support_page
async def preview_post(request: web.Request, caller: Caller) -> web.Response:
    """The preview of the sample or a pasted ticket, chosen by the form."""
    return _answer(await request.post(), request.app.get(CARD_LOOK), caller)


def _answer(form: Mapping[str, Any], look: CardLook | None, caller: Caller) -> web.Response:
    choice = Choice(pasted=_text(form, "ticket"), use_pasted=_text(form, "source") == "pasted")
    try:
        _choose(choice, form)
        page = build_page(choice, look)
    except InvalidInput as exc:
        # The message ends with the field list (one line for the CLI); the page lists them itself.
        headline = exc.message.partition(": ")[0] if exc.fields else exc.message
        page = Page(choice=choice, error=headline, error_fields=exc.fields)
    return _html(page, look, caller, status=422 if page.error else 200)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""  # a file upload is not a ticket


def _choose(choice: Choice, form: Mapping[str, Any]) -> None:
    """Fill ``choice`` from the form; an unknown value is an InvalidInput naming it."""
    choice.state = _pick(CardState, _text(form, "state") or choice.state, "state")
    choice.locale = _pick(Locale, _text(form, "locale") or choice.locale, "locale")
    shown = _text(form, "channel") or choice.channel
    if shown not in SHOWN:
        raise InvalidInput(f"unknown channel {shown!r}", {"channel": "unknown"})
    choice.channel = shown


def _pick(kind: type[E], value: str, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"unknown {name} {value!r}", {name: "unknown"}) from None


def build_page(choice: Choice, look: CardLook | None = None) -> Page:
    """Render the chosen view for every chosen platform; InvalidInput for a bad ticket."""
    ticket: ApprovalRequest | None = None
    if choice.use_pasted:
        if not choice.pasted.strip():
            raise InvalidInput("paste an approval request first", {"ticket": "empty"})
        ticket = parse_ticket(choice.pasted, "the pasted ticket")
    view = view_for(choice.state, choice.locale, ticket)
    page = Page(choice=choice)
    if choice.channel in ("all", "lark"):
        page.phones.append(_phone("lark", "Lark / Feishu", render_lark(view), look))
    if choice.channel in ("all", "dingtalk"):
        page.phones.append(_phone("dingtalk", "DingTalk", render_dingtalk(view), look))
    if choice.channel in ("all", "email"):
        page.email = _email(view)
    return page


def _phone(
    channel: Literal["lark", "dingtalk"],
    label: str,
    payload: dict[str, Any],
    look: CardLook | None,
) -> PhoneCard:
    return PhoneCard(
        channel=channel,
        label=label,
        # A card look escapes every payload string itself (its contract)
        html=Markup(look.draw(channel, payload)) if look is not None else None,
        raw=json.dumps(payload, ensure_ascii=False, indent=2),
        result=validate(channel, payload),
    )


def _email(view: ApprovalView) -> EmailPreview:
    email = render_email(view)
    return EmailPreview(
        subject=email.subject, text=email.text, html=email.html, result=validate("email", email)
    )


def _html(page: Page, look: CardLook | None, caller: Caller, status: int) -> web.Response:
    return html_page(
        "preview.html.j2",
        status,
        # A signed-in page carries its session's CSRF token: keep it out of shared caches.
        no_store=bool(caller.csrf),
        page=page,
        caller=caller,
        css=Markup(look.css() if look is not None else ""),  # a stylesheet file, not user input
        states=list(CardState),
        locales=list(Locale),
        shown=SHOWN,
    )
