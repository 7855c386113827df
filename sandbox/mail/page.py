"""``/sandbox/mail``: the mail the sandbox catcher received, as a mail client would show it.

Served beside the sandbox phones (an email approver's phone links here: email has no cards).
Each message's HTML part is drawn in an ``<iframe sandbox="" srcdoc>``: the frame gets a unique
origin and no scripts, forms or navigation, and the page's Content-Security-Policy (no script at
all, ``bot.http.pages``) applies inside it too, so a hostile mail body is inert twice over.
``?to=`` keeps one mailbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.http.pages import html_response
from sandbox.platform import SandboxPlatform

if TYPE_CHECKING:  # the mail platform (and aiosmtpd) loads only when it is switched on
    from sandbox.mail.catcher import MailCatcher

PREFIX = "/sandbox/mail"


def mailbox_url(address: str) -> str:
    """The mail page showing only ``address``'s mailbox."""
    return f"{PREFIX}?to={quote(address, safe='@')}"


@dataclass(frozen=True)
class Shown:
    """One caught message, ready to draw (the template escapes every string)."""

    to: str
    subject: str
    sender: str
    date: str
    state: str
    html: str  # goes into srcdoc, attribute-escaped by the template
    text: str


@dataclass
class MailPage:
    """The mail routes, reading the catchers of the running mail platforms."""

    platforms: Sequence[SandboxPlatform]

    def routes(self) -> list[web.RouteDef]:
        """The mail page's route."""
        return [web.get(PREFIX, self.show)]

    async def show(self, request: web.Request) -> web.Response:
        """Every caught message, newest first (``?to=`` one mailbox)."""
        to = request.query.get("to", "").strip().lower()
        shown = [_shown(a, m) for a, m in self._caught() if not to or a == to]
        body = _env().get_template("mail.html.j2").render(mails=shown[::-1], to=to, prefix=PREFIX)
        return html_response(body, no_store=True)  # always the mailbox as it is now

    def _caught(self) -> list[tuple[str, EmailMessage]]:
        catchers: list[MailCatcher] = [
            catcher for p in self.platforms if (catcher := getattr(p, "catcher", None)) is not None
        ]
        return [pair for catcher in catchers for pair in catcher.everything()]


def _shown(address: str, message: EmailMessage) -> Shown:
    return Shown(
        to=address,
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        date=str(message.get("Date", "")),
        state=str(message.get("X-Approval-State", "")),
        html=_part(message, "html"),
        text=_part(message, "plain"),
    )


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    if part is None or part.get_content_subtype() != kind:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("sandbox", "templates"),
        autoescape=True,  # subjects, addresses and the HTML for srcdoc are all escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
