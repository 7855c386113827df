"""Who is calling: the ticket backend (an RFC 9421 signature) or a person (a bearer token).

The backend's signature binds the whole request (see ``bot.backend.signing``); replays and resends are
answered by the idempotency memory in ``bot.http.once``, keyed by the signed request id.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from aiohttp import web

from bot.core.models import Entity
from bot.core.storage import TokenRepo
from bot.errors import AccessDenied, VerificationError
from bot.http.signatures import SIGNATURE_HEADERS, RequestVerifier, SignedRequest

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


class Authenticator:
    """Resolves the caller of a request to a Principal, or refuses it."""

    def __init__(self, verifier: RequestVerifier, tokens: TokenRepo) -> None:
        self.verifier = verifier
        self.tokens = tokens  # also read by the browser sessions (bot.http.session)

    async def person(self, request: web.Request, *roles: Role) -> Principal:
        """A bearer-token caller with one of ``roles``."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VerificationError("missing bearer token")
        found = await self.tokens.resolve(token.strip())
        if found is None:
            raise VerificationError("unknown or revoked token")
        principal = Principal(role=Role(found.role), name=found.id)
        if principal.role not in roles:
            raise AccessDenied(f"role {principal.role} may not do this")
        return principal

    async def backend_or_person(
        self, request: web.Request, *roles: Role
    ) -> tuple[Principal, SignedRequest | None]:
        """Either a signed backend call or a person with one of ``roles``."""
        if any(h in request.headers for h in SIGNATURE_HEADERS):
            signed = await self.verifier.verify(request)
            return Principal(role=Role.BACKEND, name="backend"), signed
        return await self.person(request, *roles), None


def new_token() -> str:
    """A fresh bearer token; only its hash is stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)
