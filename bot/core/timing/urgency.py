"""The urgency kinds a reminder may use, on their own so that the settings that name one need
none of the intake's models (``bot.core.intake`` re-exports it with the rest of the contract)."""

from __future__ import annotations

from typing import Literal

UrgencyKind = Literal["app", "sms", "phone"]  # in-app, SMS, phone call (the platforms' kinds)
