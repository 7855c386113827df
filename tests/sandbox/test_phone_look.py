"""Phone HTML: drawn from the payload alone, escaped, buttons live only with a form action."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from cards import ApprovalView, CardState, Locale, render_dingtalk, render_lark, sample_view
from sandbox.phone.look import PhoneChannel as Channel
from sandbox.phone.look import phone_css, render_phone_html

RENDER: dict[Channel, Callable[[ApprovalView], Mapping[str, Any]]] = {
    "lark": render_lark,
    "dingtalk": render_dingtalk,
}
CHANNELS: list[Channel] = ["lark", "dingtalk"]


def _view(state: CardState = CardState.PENDING, title: str = "t") -> ApprovalView:
    return sample_view(state, Locale.EN_US).model_copy(update={"title": title})


@pytest.mark.parametrize("channel", CHANNELS)
def test_script_in_title_is_escaped(channel: Channel) -> None:
    view = _view(title="<script>alert(1)</script>")
    html = render_phone_html(channel, RENDER[channel](view))
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("channel", CHANNELS)
def test_buttons_submit_with_form_action(channel: Channel) -> None:
    payload = RENDER[channel](_view())
    bo = _view().hand_over_to[0]  # the first the sample's Lark picker offers
    people = {bo: "Bo <b>"}  # the names the phone knows
    html = render_phone_html(channel, payload, form_action="/sandbox/click?x=1&y=2", people=people)
    assert '<form class="phone-form" method="post" action="/sandbox/click?x=1&amp;y=2">' in html
    assert '<input type="hidden" name="ref" value="dlv_7f3a9c2e41b8">' in html
    assert 'name="comment"' in html
    for action in ("approve", "reject"):
        assert f'type="submit" name="action" value="{action}"' in html
    picker = f'<option value="{bo}">Bo &lt;b&gt;</option>' in html
    assert picker is (channel == "lark")  # DingTalk cards have no person picker
    assert ('value="hand_over"' in html) is (channel == "lark")
    assert "disabled" not in html.replace('<option value="" disabled selected>', "")


@pytest.mark.parametrize("channel", CHANNELS)
def test_buttons_disabled_without_form_action(channel: Channel) -> None:
    html = render_phone_html(channel, RENDER[channel](_view()))
    assert "<form" not in html and 'type="submit"' not in html
    assert len(re.findall(r'<button[^>]*type="button" disabled>', html)) == 2


@pytest.mark.parametrize("channel", CHANNELS)
def test_final_state_has_no_form(channel: Channel) -> None:
    payload = RENDER[channel](_view(CardState.APPROVED))
    html = render_phone_html(channel, payload, form_action="/x")
    assert "<form" not in html and "<button" not in html
    assert 'href="https://dms.example.com/tickets/DMS-20261123-0042"' in html


def test_hostile_payload_is_contained() -> None:
    card = {
        "header": {"title": {"content": "<b>x</b>"}, "template": "red;background:url(x)"},
        "body": {
            "elements": [
                {"tag": "markdown", "content": "&#60;img src=x onerror=alert(1)&#62;"},
                {
                    "tag": "button",
                    "behaviors": [{"type": "open_url", "default_url": "javascript:x"}],
                },
                "junk",
            ]
        },
    }
    html = render_phone_html("lark", card)
    assert "<img" not in html and "<b>" not in html and "javascript:" not in html
    assert "background-color: #8F959E" in html
    assert render_phone_html("dingtalk", {"headerColor": "red;x", "markdown": 5})


def test_css_ships_with_the_package() -> None:
    assert ".phone-card" in phone_css()


def test_a_picker_without_options_offers_the_chats_members() -> None:
    payload = render_lark(_view())
    (picker,) = [e for e in payload["body"]["elements"] if e["tag"] == "select_person"]
    del picker["options"]
    html = render_phone_html("lark", payload, form_action="/c", members=["ou_ann"])
    assert re.findall(r'<option value="(ou_[^"]*)"', html) == ["ou_ann"]
