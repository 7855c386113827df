"""A card drawn as the phone app shows it: an HTML fragment from the payload alone.

The sandbox's, not the product's: the sandbox phones draw the cards a seat holds with it, and
the embedded deployment plugs it into the gateway's ``/preview`` as its
:class:`bot.http.preview.CardLook` (through :class:`bot.app.launch.Additions`), so the preview shows
each card as a phone would. Every string is autoescaped and nothing from the payload reaches an
attribute unchecked (URLs pass :func:`cards.text.safe_url`, colours come from a table or match
``#RRGGBB``). No JavaScript: the only interaction is a plain form POST.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined

from sandbox.phone.read import dingtalk_card, lark_card

PhoneChannel = Literal["lark", "dingtalk"]


def render_phone_html(
    channel: PhoneChannel,
    payload: Mapping[str, Any],
    *,
    form_action: str | None = None,
    people: Mapping[str, str] | None = None,
    members: Sequence[str] = (),
) -> str:
    """Draw ``payload`` (Lark card JSON 2.0 or a DingTalk cardParamMap) as HTML.

    With ``form_action`` each form's buttons are ``<button type="submit"
    name="action">`` posting ``ref`` (hidden) and ``comment`` to it; without,
    the buttons and the input are drawn disabled. A person picker offers its options, or the
    chat's ``members`` when it lists none (as Lark does), by their name in ``people`` (address
    to name), and posts ``action=hand_over``, ``ref`` and ``to`` (the address).
    """
    card = lark_card(payload) if channel == "lark" else dingtalk_card(payload)
    template = _env().get_template("phone_card.html.j2")
    return template.render(
        card=card,
        form_action=form_action,
        channel=channel,
        people=people or {},
        members=tuple(members),
    )


def phone_css() -> str:
    """The stylesheet for the ``phone-*`` classes used by :func:`render_phone_html`."""
    return resources.files("sandbox").joinpath("templates", "phone.css").read_text("utf-8")


class PhoneLook:
    """The phone drawing as ``/preview``'s card look (disabled buttons: a preview decides nothing)."""

    def css(self) -> str:
        """The stylesheet the drawn cards need."""
        return phone_css()

    def draw(self, channel: PhoneChannel, payload: Mapping[str, Any]) -> str:
        """The card as the phone shows it (every payload string escaped)."""
        return render_phone_html(channel, payload)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("sandbox", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a typo in a template fails the tests, not a user
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
