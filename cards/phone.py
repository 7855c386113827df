"""A card drawn as the phone app shows it: an HTML fragment from the payload alone.

Used by the preview page and the sandbox phone. Every string is autoescaped and
nothing from the payload reaches an attribute unchecked (URLs pass
:func:`cards.text.safe_url`, colours come from a table or match ``#RRGGBB``).
No JavaScript: the only interaction is a plain form POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

from cards.phone_read import dingtalk_card, lark_card
from cards.templating import html_env

PhoneChannel = Literal["lark", "dingtalk"]


def render_phone_html(
    channel: PhoneChannel,
    payload: Mapping[str, Any],
    *,
    form_action: str | None = None,
) -> str:
    """Draw ``payload`` (Lark card JSON 2.0 or a DingTalk cardParamMap) as HTML.

    With ``form_action`` each form's buttons are ``<button type="submit"
    name="action">`` posting ``ref`` (hidden) and ``comment`` to it; without,
    the buttons and the input are drawn disabled.
    """
    card = lark_card(payload) if channel == "lark" else dingtalk_card(payload)
    template = html_env().get_template("phone.html.j2")
    return template.render(card=card, form_action=form_action, channel=channel)


def phone_css() -> str:
    """The stylesheet for the ``phone-*`` classes used by :func:`render_phone_html`."""
    return resources.files("cards").joinpath("templates", "phone.css").read_text("utf-8")
