"""Colours per card state, shared by every renderer so a state looks the same everywhere."""

from __future__ import annotations

from typing import Final

from cards.view import CardState

# Lark header templates by state (card JSON 2.0 ``header.template``).
LARK_TEMPLATES: Final = {
    CardState.PENDING: "blue",
    CardState.APPROVED: "green",
    CardState.REJECTED: "red",
    CardState.EXPIRED: "grey",
    CardState.WITHDRAWN: "grey",
    CardState.FAILED: "orange",
    CardState.TEST: "violet",
}

# Approximate RGB of each Lark template, used where a colour must be spelled out.
TEMPLATE_COLORS: Final = {
    "blue": "#3370FF",
    "wathet": "#4DA8F7",
    "turquoise": "#14C0B3",
    "green": "#34C724",
    "yellow": "#FFC60A",
    "orange": "#FF8800",
    "red": "#F54A45",
    "carmine": "#E33E8B",
    "violet": "#7F3BF5",
    "purple": "#A54DE8",
    "indigo": "#4954E6",
    "grey": "#8F959E",
    "default": "#8F959E",
}

STATE_COLORS: Final = {state: TEMPLATE_COLORS[name] for state, name in LARK_TEMPLATES.items()}
