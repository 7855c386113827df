"""``/sandbox/phone``: what a sandbox user's phone shows, with buttons that really work.

Served only by the embedded deployment (``sandbox.embedded`` adds these routes to the gateway's
app), and without a token like the embedded ``/preview``: every user here is a sandbox seat,
every card a sandbox card.

``/sandbox/phone/{user}`` takes an account id (``2002``, one phone for all the account's seats)
or a seat's address on its platform (``staff2002`` on DingTalk, ``ou_2002`` on Lark). It draws
the cards the user holds on the sandbox Lark and DingTalk with the same renderer as
``/preview``. A tap posts the card's form to ``/sandbox/phone/{user}/click``, which presses the
button (or, on a Lark card's person picker, picks one of the people it offers)
through the platform's real callback protocol (the sandbox sends the frame to the
gateway's stream, exactly as a phone would) and redirects back to the phone with the toast the
platform showed (POST-redirect-GET, so a reload never taps twice). No script runs on the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from bot.core.models import ClickAction
from bot.errors import GatewayError
from bot.http.pages import html_response
from sandbox.mail.page import mailbox_url
from sandbox.phone.look import phone_css, render_phone_html
from sandbox.platform import HeldCard, PersonPicking, SandboxPlatform, Seat

PREFIX = "/sandbox/phone"
TOAST_MAX = 300  # the toast travels in the redirect's query string
LABELS = {
    "lark": "Lark / Feishu",
    "dingtalk": "DingTalk",
    "dingtalk_enterprise": "DingTalk (enterprise)",
    "memory": "Memory",
    "email": "Email",
}
NOT_HERE = "This card is not on this phone."


def phone_url(base: str, user: str) -> str:
    """The phone page of ``user`` on the gateway at ``base``."""
    return f"{base}{PREFIX}/{quote(user, safe='')}"


@dataclass
class DrawnCard:
    """One held card, drawn."""

    delivery_id: str
    html: Markup


@dataclass
class Screen:
    """One seat's chat with the bot: its cards, newest first."""

    seat: Seat
    label: str
    cards: list[DrawnCard]
    mailbox: str | None = None  # email has no cards: its mail is on the sandbox mail page


@dataclass
class Page:
    """Everything the template draws: the index (``user`` None) or one user's phone."""

    seats: Sequence[Seat]
    user: str | None = None
    name: str = ""
    toast: str = ""
    screens: list[Screen] = field(default_factory=list)


@dataclass
class Phones:
    """The sandbox phones: every seat of the embedded deployment, and the platforms behind them."""

    platforms: Sequence[SandboxPlatform]
    seats: list[Seat] = field(default_factory=list)  # appended to as approvers are seated

    def routes(self) -> list[web.RouteDef]:
        """The phone routes, bound to these platforms and seats."""
        return [
            web.get(PREFIX, self.index),
            web.get(PREFIX + "/{user}", self.show),
            web.post(PREFIX + "/{user}/click", self.click),
        ]

    async def index(self, request: web.Request) -> web.Response:
        """Every seat, with a link to its phone."""
        return _html(Page(seats=self.seats))

    async def show(self, request: web.Request) -> web.Response:
        """The user's phone, with the toast of the last tap when redirected here from one."""
        user = request.match_info["user"]
        seats = self._seats_of(user)
        if not seats:
            return _html(Page(seats=self.seats, user=user), status=404)
        page = Page(seats=self.seats, user=user, name=seats[0].display_name)
        page.toast = request.query.get("toast", "")[:TOAST_MAX]
        action = f"{PREFIX}/{quote(user, safe='')}/click"
        page.screens = [self._screen(seat, action) for seat in seats]
        return _html(page)

    async def click(self, request: web.Request) -> web.Response:
        """Press the tapped button over the platform's protocol, then back to the phone."""
        user = request.match_info["user"]
        form = await request.post()
        toast = await self._press(user, _text(form, "ref"), _text(form, "action"), form)
        query = urlencode({"toast": toast[:TOAST_MAX]})
        raise web.HTTPSeeOther(location=f"{PREFIX}/{quote(user, safe='')}?{query}")

    async def _press(self, user: str, ref: str, action: str, form: Mapping[str, Any]) -> str:
        if action == ClickAction.HAND_OVER.value:
            return await self._pick(user, ref, _text(form, "to"))
        try:
            button = ClickAction(action)
        except ValueError:
            return f"Unknown button {action!r}."
        holder = next((s for s in self._seats_of(user) if self._holds(s, ref)), None)
        if not ref or holder is None:
            return NOT_HERE
        comment = _text(form, "comment").strip() or None
        try:
            outcome = await self._platform(holder).click(holder, ref, button, comment)
        except (KeyError, StopIteration):
            return NOT_HERE  # e.g. the buttons vanished: the card was decided meanwhile
        except (TimeoutError, GatewayError) as exc:
            return f"The tap did not reach the gateway: {exc}"
        return outcome.toast or "(no toast)"

    async def _pick(self, user: str, ref: str, to: str) -> str:
        # A person picked on a Lark card's picker: sent as the platform sends a pick.
        holder = next((s for s in self._seats_of(user) if self._holds(s, ref)), None)
        platform = self._platform(holder) if holder and ref else None
        if holder is None or not isinstance(platform, PersonPicking):
            return NOT_HERE
        try:
            outcome = await platform.pick(holder, ref, to)
        except (KeyError, ValueError):
            return NOT_HERE  # no picker any more (handed over or decided), or nobody picked
        except (TimeoutError, GatewayError) as exc:
            return f"The pick did not reach the gateway: {exc}"
        return outcome.toast or "(no toast)"

    def _seats_of(self, user: str) -> list[Seat]:
        return [s for s in self.seats if user in (s.account_id, s.address)]

    def _platform(self, seat: Seat) -> SandboxPlatform:
        return next(p for p in self.platforms if seat.channel in p.channels())

    def _people(self, seat: Seat) -> dict[str, str]:
        # The names a person picker shows for the addresses it offers: the seats' own (Lark
        # shows the names it knows; the card carries only open_ids).
        return {s.address: s.display_name for s in self.seats if s.channel == seat.channel}

    def _holds(self, seat: Seat, delivery_id: str) -> bool:
        return any(h.delivery_id == delivery_id for h in self._platform(seat).held(seat))

    def _screen(self, seat: Seat, action: str) -> Screen:
        held = self._platform(seat).held(seat)
        return Screen(
            seat=seat,
            label=LABELS.get(seat.channel, seat.channel),
            cards=[_draw(card, action, self._people(seat), seat.address) for card in held],
            mailbox=mailbox_url(seat.address) if seat.channel == "email" else None,
        )


def _draw(card: HeldCard, action: str, people: dict[str, str], holder: str) -> DrawnCard:
    # render_phone_html escapes every payload string itself (autoescaped template); a picker
    # without options offers the chat's members: the card is in the holder's chat with the bot.
    html = render_phone_html(
        card.look, card.payload, form_action=action, people=people, members=(holder,)
    )
    return DrawnCard(delivery_id=card.delivery_id, html=Markup(html))


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("sandbox", "templates"),
        autoescape=True,  # seat names and card text are drawn on the page
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _html(page: Page, status: int = 200) -> web.Response:
    body = (
        _env()
        .get_template("phone.html.j2")
        .render(page=page, css=Markup(phone_css()), labels=LABELS, prefix=PREFIX)
    )
    # no-store: a phone always shows the cards as they are now
    return html_response(body, status, no_store=True)
