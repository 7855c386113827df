"""Verifying the ticket backend's RFC 9421 signatures (see ``bot.backend.signing`` for the scheme).

The signature is checked against the raw request before anything parses the body. Only what the
signature covers is trusted: the request id is the verified ``nonce`` parameter and the request
hash is built from the verified method, path, query and digest, so two spellings of the same
credentials give one key, and no spelling can point the credentials at another request.

Two verifiers, one answer. :class:`LibraryVerifier` is the RFC 9421 library's, general and the
reference. :class:`RequestVerifier` first reads the signer's own spelling (the one every request
of ``bot.backend.signing.sign_request`` has) with one exact pattern per field and the standard
library's HMAC; any other spelling, and every refusal, goes to the library, so it accepts
exactly what the library accepts and refuses the rest with the library's words. The library's
general structured-field parser was half the CPU of an accepted submission
(``tests/http/test_signature_fast_path.py`` holds the two to the same answers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from aiohttp import web
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.resolvers import MappingKeyResolver

from bot.backend.signing import ALGORITHM, COVERED, KEY_ID, LABEL, NONCE_PATTERN, secret_key
from bot.core.models import Entity
from bot.core.ports import Clock
from bot.errors import VerificationError

SIGNATURE_HEADERS = ("signature", "signature-input")
WINDOW: Final = timedelta(minutes=5)

# The signer's own spelling, field by field. Each pattern accepts only text that RFC 8941 parses
# to exactly the values read from it and that serializes back to itself (integers without
# leading zeros, strings without escapes, canonical base64 of 32 bytes), so the text matched is
# also what the library would put in the signature base. Anything else goes to the library.
_B64_32: Final = r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="  # canonical: the spare bits are 0
_PARAMS: Final = (
    re.escape("(" + " ".join(f'"{name}"' for name in COVERED) + ")")
    + r";created=(?P<created>0|[1-9][0-9]{0,14})"
    + re.escape(f';keyid="{KEY_ID}";alg="{ALGORITHM}"')
    + r';nonce="(?P<nonce>'
    + NONCE_PATTERN.pattern.removeprefix("^").removesuffix("$")
    + ')"'
)
_INPUT: Final = re.compile(re.escape(LABEL) + "=(?P<params>" + _PARAMS + ")")
_SIGNATURE: Final = re.compile(re.escape(LABEL) + f"=:(?P<mac>{_B64_32}):")
_DIGEST: Final = re.compile(f"sha-256=:(?P<digest>{_B64_32}):")
# The library's URL grammar (RFC 3986 path and query characters, escapes well formed), for an
# origin-form target without a fragment; the method is a token the library takes as uppercase.
_PCHAR: Final = r"(?:[A-Za-z0-9._~\-!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_TARGET: Final = re.compile(rf"(?P<path>/(?:{_PCHAR}|/)*)(?:\?(?P<query>(?:{_PCHAR}|[/?])*))?")
_METHOD: Final = re.compile(r"[A-Z0-9!#$%&'*+.^_`|~-]+")
_FIELDS: Final = ("signature-input", "signature", "content-digest")


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


def signature_base(components: Sequence[tuple[str, str]], params: str) -> bytes:
    """RFC 9421 section 2.5: one ``"name": value`` line per covered component, then the
    ``@signature-params`` line (no newline after it), as the bytes the MAC is taken over."""
    lines = [f'"{name}": {value}' for name, value in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("ascii")


def request_hash(method: str, path: str, query: str, body_digest: str) -> str:
    """The idempotency memory's hash of a verified request: its signed method, path, query
    (with its ``?``) and the hex SHA-256 of its body."""
    return hashlib.sha256(f"{method}\n{path}\n{query}\n{body_digest}".encode()).hexdigest()


class RequestVerifier:
    """Checks the backend's signature on one request; pure but for reading the body."""

    def __init__(self, secret: str, clock: Clock, window: timedelta = WINDOW) -> None:
        self._key = secret_key(secret)
        self._clock = clock
        self._window = window.total_seconds()
        self._library = LibraryVerifier(secret, clock, window)

    async def verify(self, request: web.Request) -> SignedRequest:
        """The verified request, or VerificationError naming what is wrong."""
        missing = [h for h in SIGNATURE_HEADERS if h not in request.headers]
        if missing:
            raise VerificationError(f"missing signature headers: {', '.join(missing)}")
        return self.check(request.method, request.raw_path, request.headers, await request.read())

    def check(self, method: str, target: str, headers: Fields, body: bytes) -> SignedRequest:
        """Verify one request given as its method, raw target, every header line and body."""
        verified = self.signer_spelling(method, target, headers, body)
        if verified is not None:
            return verified
        return self._library.check(method, target, headers, body)

    def signer_spelling(
        self, method: str, target: str, headers: Fields, body: bytes
    ) -> SignedRequest | None:
        """The verified request when it is in the signer's own spelling and verifies; None when
        it is not (the library then decides, and words any refusal)."""
        fields = _one_line_each(headers)
        if fields is None or _METHOD.fullmatch(method) is None:
            return None
        signed_input = _INPUT.fullmatch(fields[0])
        signature = _SIGNATURE.fullmatch(fields[1])
        digest = _DIGEST.fullmatch(fields[2])
        parts = _TARGET.fullmatch(target)
        if signed_input is None or signature is None or digest is None or parts is None:
            return None
        created = int(signed_input["created"])
        if abs(self._clock.now().timestamp() - created) > self._window:
            return None
        body_hash = hashlib.sha256(body)
        if not hmac.compare_digest(base64.b64decode(digest["digest"]), body_hash.digest()):
            return None
        path, query = parts["path"], "?" + (parts["query"] or "")
        components = (("@method", method), ("@path", path), ("@query", query))
        base = signature_base((*components, ("content-digest", fields[2])), signed_input["params"])
        mac = hmac.digest(self._key, base, "sha256")
        if not hmac.compare_digest(mac, base64.b64decode(signature["mac"])):
            return None
        return SignedRequest(
            body=body,
            request_id=signed_input["nonce"],
            request_hash=request_hash(method, path, query, body_hash.hexdigest()),
            created=datetime.fromtimestamp(created, UTC),
        )


def _one_line_each(headers: Fields) -> tuple[str, str, str] | None:
    """Signature-Input, Signature and Content-Digest as the library reads them (trimmed of
    optional whitespace), when each is one field line; None otherwise (the library combines
    several lines into one value, or refuses them). A folded line keeps its CR LF here, which
    no pattern matches: the library unfolds it."""
    lines: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()  # as the library folds names
        if key in _FIELDS:
            if key in lines:
                return None
            lines[key] = value.strip(" \t")
    if len(lines) != len(_FIELDS):
        return None
    return lines[_FIELDS[0]], lines[_FIELDS[1]], lines[_FIELDS[2]]


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


class LibraryVerifier:
    """The RFC 9421 library's verification of one request: the reference for every spelling,
    and the one that words every refusal."""

    def __init__(self, secret: str, clock: Clock, window: timedelta = WINDOW) -> None:
        self._verifier = _WindowVerifier(secret_key(secret), clock, window)

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
    method, path, query = (covered[f'"{name}"'] for name in COVERED[:-1])
    return SignedRequest(
        body=body,
        request_id=nonce,
        request_hash=request_hash(method, path, query, hashlib.sha256(body).hexdigest()),
        created=datetime.fromtimestamp(int(params["created"]), UTC),
    )


def _minutes(window: timedelta) -> str:
    return f"±{int(window.total_seconds() // 60)} minute"
