"""Who is calling: the ticket backend (Standard Webhooks signature) or a person (bearer token).

The signature is checked on the raw bytes before anything parses them. ``standardwebhooks``
enforces a ±5 minute window but remembers nothing, so replays inside the window are caught here:
each (id, timestamp, signature) is accepted once. A backend retrying a submission re-signs it
with a fresh timestamp and the same ``webhook-id``; that is an idempotent resubmit, not a replay.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from bot.core.models import Entity
from bot.core.ports import Clock, Store
from bot.errors import AccessDenied, MalformedBody, VerificationError
from bot.store.tokens import TokenStore

TOLERANCE = timedelta(minutes=5)  # the Standard Webhooks window, enforced by the package too
TOKEN_PREFIX = "agw_"


class Role(StrEnum):
    """What a caller may do."""

    BACKEND = "backend"
    ADMIN = "admin"
    SUPPORT = "support"


class Principal(Entity):
    """An authenticated caller."""

    role: Role
    name: str


class SignedBody(Entity):
    """A verified backend call: its raw bytes and idempotency key."""

    raw: bytes
    webhook_id: str


class WebhookVerifier:
    """Checks Standard Webhooks headers and refuses replays."""

    def __init__(self, secret: str, store: Store, clock: Clock) -> None:
        self._webhook = Webhook(secret)
        self._store = store
        self._clock = clock

    async def verify(self, request: web.Request) -> SignedBody:
        """Return the verified body or raise VerificationError / InvalidInput."""
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        webhook_id, stamp, signature = _signature_headers(headers)
        sent_at = self._check_window(stamp)
        try:
            self._webhook.verify(raw, headers)
        except WebhookVerificationError as exc:
            raise VerificationError(f"signature rejected: {exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError):
            # The package decodes JSON after the signature passed: signed, but not JSON.
            if raw:
                raise MalformedBody() from None
        await self._refuse_replay(webhook_id, stamp, signature, sent_at)
        return SignedBody(raw=raw, webhook_id=webhook_id)

    def _check_window(self, stamp: str) -> datetime:
        try:
            sent_at = datetime.fromtimestamp(int(stamp), UTC)
        except (ValueError, OverflowError, OSError):
            raise VerificationError("webhook-timestamp is not a Unix time") from None
        if abs(self._clock.now() - sent_at) > TOLERANCE:
            raise VerificationError("webhook-timestamp is outside the 5 minute window")
        return sent_at

    async def _refuse_replay(
        self, webhook_id: str, stamp: str, signature: str, sent_at: datetime
    ) -> None:
        key = hashlib.sha256(f"{webhook_id}.{stamp}.{signature}".encode()).hexdigest()
        async with self._store.write() as tx:
            fresh = await tx.remember_signature(key, sent_at + 2 * TOLERANCE, self._clock.now())
        if not fresh:
            raise VerificationError("this signed request was already received (replay)")


def _signature_headers(headers: dict[str, str]) -> tuple[str, str, str]:
    missing = [
        h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if h not in headers
    ]
    if missing:
        raise VerificationError(f"missing signature headers: {', '.join(missing)}")
    return headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]


class Authenticator:
    """Resolves the caller of a request to a Principal, or refuses it."""

    def __init__(self, verifier: WebhookVerifier, tokens: TokenStore) -> None:
        self.verifier = verifier
        self._tokens = tokens

    async def person(self, request: web.Request, *roles: Role) -> Principal:
        """A bearer-token caller with one of ``roles``."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VerificationError("missing bearer token")
        found = await self._tokens.resolve(token.strip())
        if found is None:
            raise VerificationError("unknown or revoked token")
        principal = Principal(role=Role(found.role), name=found.id)
        if principal.role not in roles:
            raise AccessDenied(f"role {principal.role} may not do this")
        return principal

    async def backend_or_person(
        self, request: web.Request, *roles: Role
    ) -> tuple[Principal, SignedBody | None]:
        """Either a signed backend call or a person with one of ``roles``."""
        if "webhook-signature" in request.headers:
            signed = await self.verifier.verify(request)
            return Principal(role=Role.BACKEND, name="backend"), signed
        return await self.person(request, *roles), None


def new_token() -> str:
    """A fresh bearer token; only its hash is stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)
