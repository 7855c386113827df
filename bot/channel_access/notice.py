"""The notice an admin reads and accepts before a channel may send: what the gateway does with
the credential, what each message costs. Its version is a hash of its content, so any change
(new rates) asks for consent again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from bot.channels.registry import REGISTRY
from bot.config import Settings


def credential_fields(name: str) -> frozenset[str]:
    """The credential fields ``name`` accepts over the API (the rest comes from settings)."""
    spec = REGISTRY.get(name)
    return spec.credential_fields if spec is not None else frozenset()


_USES = (
    "The gateway keeps the credentials encrypted at rest (AES-256-GCM under this deployment's "
    "master key) and uses them only to obtain access tokens, to send approval cards to the "
    "approvers bound on this channel, to update those cards when a request is decided, withdrawn "
    "or expires, and to receive approvers' clicks and bind messages. They are never returned by "
    "the API nor written to logs. Revoking stops the channel at once and deletes them."
)


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
    billing = {
        "unit": "message (each card sent, each card update, each email)",
        "currency": rates.currency,
        "platform_per_message": rates.platform_per_message.get(name, 0.0),
        "deployment_per_message": rates.deployment_per_message,
        "note": "the platform bills the organisation's app per its own price list; "
        "the deployment rate is this gateway's internal charge",
    }
    fields = sorted(credential_fields(name))
    content = json.dumps([name, _USES, billing, fields], sort_keys=True)
    version = hashlib.sha256(content.encode()).hexdigest()[:12]
    return Notice(
        channel=name,
        version=version,
        uses=_USES,
        billing=billing,
        credential_fields=fields,
        credentials_in_settings=credentials_in_settings,
    )
