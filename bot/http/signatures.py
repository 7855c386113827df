"""Verifying the ticket backend's RFC 9421 signatures (see ``bot.backend.signing`` for the scheme).

The signature is checked against the raw request before anything parses the body. Only what the
signature covers is trusted: the request id is the verified ``nonce`` parameter and the request
hash is built from the verified method, path, query and digest, so two spellings of the same
credentials give one key, and no spelling can point the credentials at another request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.resolvers import MappingKeyResolver

from bot.backend.signing import COVERED, KEY_ID, NONCE_PATTERN, secret_key
from bot.core.models import Entity
from bot.core.ports import Clock
from bot.errors import VerificationError

SIGNATURE_HEADERS = ("signature", "signature-input")


class SignedRequest(Entity):
    """A verified backend call: its body, its request id and the hash of what was signed."""

    body: bytes
    request_id: str
    request_hash: str
    created: datetime


class Fields(Protocol):
    """Header fields with every line kept (aiohttp's and multidict's CIMultiDict are)."""

    def items(self) -> Iterable[tuple[str, str]]: ...
    def keys(self) -> Iterable[str]: ...
    def __contains__(self, name: object) -> bool: ...


class _Headers:
    """Every field line of the request, as the library's component resolver reads them."""

    def __init__(self, fields: Fields) -> None:
        self._fields = fields

    def items(self) -> Iterable[tuple[str, str]]:
        return self._fields.items()

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("request headers are read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("request headers are read-only")


@dataclass
class _Incoming:
    method: str
    url: str
    headers: _Headers


class _WindowVerifier(HTTPMessageVerifier):
    """The library's verifier with the gateway's clock and window instead of the wall clock."""

    def __init__(self, key: bytes, clock: Clock, window: timedelta) -> None:
        super().__init__(
            signature_algorithm=algorithms.HMAC_SHA256,
            key_resolver=MappingKeyResolver(public_keys={KEY_ID: key}, private_keys={}),
        )
        self._clock = clock
        self._window = window

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        params = sig_input.params
        created = params.get("created")
        if type(created) is not int:
            raise InvalidSignature('the signature has no integer "created" parameter')
        if abs(self._clock.now().timestamp() - created) > self._window.total_seconds():
            raise InvalidSignature(f"created is outside the {_minutes(self._window)} window")
        expires = params.get("expires")
        if expires is not None and (
            type(expires) is not int or expires < self._clock.now().timestamp()
        ):
            raise InvalidSignature("the signature has expired")


class RequestVerifier:
    """Checks the backend's signature on one request; pure but for reading the body."""

    def __init__(self, secret: str, clock: Clock, window: timedelta = timedelta(minutes=5)) -> None:
        self._verifier = _WindowVerifier(secret_key(secret), clock, window)
        self._clock = clock

    async def verify(self, request: web.Request) -> SignedRequest:
        """The verified request, or VerificationError naming what is wrong."""
        missing = [h for h in SIGNATURE_HEADERS if h not in request.headers]
        if missing:
            raise VerificationError(f"missing signature headers: {', '.join(missing)}")
        return self.check(request.method, request.raw_path, request.headers, await request.read())

    def check(self, method: str, target: str, headers: Fields, body: bytes) -> SignedRequest:
        """Verify one request given as its method, raw target, every header line and body."""
        # @authority is not covered, so the host part only has to parse; the target keeps the
        # path and query exactly as sent, which is what the signer signed.
        message = _Incoming(method, "http://gateway.invalid" + target, _Headers(headers))
        try:
            results = self._verifier.verify(
                message, max_age=None, require_components=COVERED, body=body
            )
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            raise VerificationError(f"signature rejected: {exc}") from None
        return _signed(body, results[0].parameters, results[0].covered_components)


def _signed(body: bytes, params: dict[str, Any], covered: dict[str, str]) -> SignedRequest:
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not NONCE_PATTERN.match(nonce):
        raise VerificationError("the signature's nonce (the request id) is missing or malformed")
    signed = "\n".join(covered[f'"{name}"'] for name in COVERED[:-1])
    digest = hashlib.sha256(body).hexdigest()
    return SignedRequest(
        body=body,
        request_id=nonce,
        request_hash=hashlib.sha256(f"{signed}\n{digest}".encode()).hexdigest(),
        created=datetime.fromtimestamp(int(params["created"]), UTC),
    )


def _minutes(window: timedelta) -> str:
    return f"±{int(window.total_seconds() // 60)} minute"
