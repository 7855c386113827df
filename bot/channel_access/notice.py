"""The notice an admin reads and accepts before a channel may send: what the gateway does with
the credential, what each message costs. Its version is a hash of its content, so any change
(new rates) asks for consent again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from bot.channels.registry import REGISTRY
from bot.settings.config import PAID_URGENCY_CHANNELS, Settings


def credential_fields(name: str) -> frozenset[str]:
    """The credential fields ``name`` accepts over the API (the rest comes from settings)."""
    spec = REGISTRY.get(name)
    return spec.credential_fields if spec is not None else frozenset()


_KEPT = (
    "They are never returned by the API nor written to logs. Revoking stops the channel at once "
    "and deletes them."
)
_CHAT_USES = (
    "The gateway keeps the credentials encrypted at rest (AES-256-GCM under this deployment's "
    "master key) and uses them only to obtain access tokens, to send approval cards to the "
    "approvers bound on this channel, to update those cards when a request is decided, withdrawn "
    "or expires, and to receive approvers' clicks and bind messages. " + _KEPT
)
# Email sends and never receives: no tokens, no buttons, no chat to bind from.
_EMAIL_USES = (
    "The gateway keeps the SMTP settings and password encrypted at rest (AES-256-GCM under this "
    "deployment's master key) and uses them only to sign in to that SMTP server and send mail: "
    "an approval email to each approver reached by email (the request and a link to decide it "
    "in the ticket console; email has no buttons and the gateway reads no replies), a closing "
    "email when a request is decided, withdrawn or expires (when closing emails are on), and the "
    "confirmation codes that prove an address before it is bound. " + _KEPT
)


# SMS and phone urgency: what the platform bills for each (its own words), and the opt-in.
_PAID_BILLED = {
    "lark": "Lark bills urgent_sms and urgent_phone against the tenant's urgent quota "
    "(refused once it is spent)",
    "dingtalk": "a DingTalk DING by SMS or phone (remindType 2, 3) needs a paid plan and is "
    "billed under it",
}
_PAID_USES = (
    " Where a request asks for SMS or phone urgency on a reminder or escalation step, the gateway "
    "uses the platform's SMS or phone urgency on the card already sent only if this consent was "
    "given with paid_urgency: true; without it, or when the platform refuses, it uses the free "
    "in-app urgency instead (then a plain reminder), and the request's trace says why."
)


def offers_paid_urgency(name: str) -> bool:
    """Whether ``name``'s platform has SMS and phone urgency (charged to the tenant)."""
    return name in PAID_URGENCY_CHANNELS


def _uses(name: str) -> str:
    if _is_email(name):
        return _EMAIL_USES
    return _CHAT_USES + (_PAID_USES if offers_paid_urgency(name) else "")


def _urgency_billing(settings: Settings, name: str) -> dict[str, Any]:
    rates = settings.rates
    platform = "lark" if name == "lark" else "dingtalk"
    return {
        "unit": "urgency (each SMS or phone call to one approver)",
        "sms": rates.platform_per_urgent_sms.get(name, 0.0),
        "phone": rates.platform_per_urgent_phone.get(name, 0.0),
        "app": 0.0,
        "charged_by": "the platform, to the tenant",
        "note": _PAID_BILLED[platform] + "; used only with paid_urgency accepted, "
        "each counted in the usage (urgent_sms, urgent_phone)",
    }


def _is_email(name: str) -> bool:
    spec = REGISTRY.get(name)
    return spec is not None and spec.kind == "email"


def next_steps(name: str) -> list[str]:
    """What an admin does after authorizing ``name``: how its approvers get bound, and checks."""
    if _is_email(name):
        bind = (
            "bind approvers' addresses: PUT /v1/bindings/{account_id} with channel 'email' "
            "(a confirmation code is mailed; the address is used once confirmed), "
            "approval-gateway bindings import FILE --verified-emails for addresses your "
            "directory already vouches for, or POST /v1/me/email from the ticket backend"
        )
    else:
        bind = (
            f"bind approvers: PUT /v1/bindings/{{account_id}} with channel {name!r}, or "
            "approval-gateway bindings import FILE, or self-service 'bind CODE' in chat"
        )
    return [
        bind,
        f"channel order: APPROVAL_GATEWAY_CHANNEL_ORDER decides where {name} ranks",
        "check it: GET /v1/channels shows the channel's health"
        if _is_email(name)
        else "check it: GET /v1/channels shows the stream's health",
    ]


class Notice(BaseModel):
    """What an admin agrees to when authorizing a channel."""

    channel: str
    version: str
    uses: str
    billing: dict[str, Any]
    credential_fields: list[str]
    credentials_in_settings: bool


def make_notice(settings: Settings, name: str, *, credentials_in_settings: bool) -> Notice:
    """The notice for ``name`` under ``settings``; its version changes whenever its content does."""
    rates = settings.rates
    billing: dict[str, Any] = {
        "unit": "message (each email sent)"
        if _is_email(name)
        else "message (each card sent, each card update, each email)",
        "currency": rates.currency,
        "platform_per_message": rates.platform_per_message.get(name, 0.0),
        "deployment_per_message": rates.deployment_per_message,
        "note": "the platform bills the organisation's app per its own price list; "
        "the deployment rate is this gateway's internal charge",
    }
    if offers_paid_urgency(name):
        billing["urgency"] = _urgency_billing(settings, name)
    fields = sorted(credential_fields(name))
    uses = _uses(name)
    content = json.dumps([name, uses, billing, fields], sort_keys=True)
    version = hashlib.sha256(content.encode()).hexdigest()[:12]
    return Notice(
        channel=name,
        version=version,
        uses=uses,
        billing=billing,
        credential_fields=fields,
        credentials_in_settings=credentials_in_settings,
    )
