"""RFC 9421 HTTP Message Signatures for the calls a ticket backend makes to the gateway.

Every call is signed with HMAC-SHA256 under the backend secret over its method, path, query and
an RFC 9530 ``Content-Digest`` of its body, with ``created`` (the time window) and ``nonce`` (the
request id) as signed parameters. Captured credentials are therefore worth nothing for any other
method, path, query or body, and the request id is the one key of the replay and idempotency
memory: it is read from the verified signature parameters, so it has exactly one spelling however
the headers are written.

This module signs; ``bot.http.signatures`` verifies. The CLI's ``sign`` command, the sandbox
ticket backend, the benchmark and the tests all sign through :func:`sign_request`.

Wire format (one request)::

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:
    Signature-Input: sig=("@method" "@path" "@query" "content-digest");created=1767225600;nonce="req-8f1c";keyid="backend";alg="hmac-sha256"
    Signature: sig=:<base64 HMAC-SHA256 of the RFC 9421 signature base>:
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import MappingKeyResolver

from bot.errors import ConfigError

LABEL: Final = "sig"
KEY_ID: Final = "backend"
ALGORITHM: Final = "hmac-sha256"
# What every signature must cover. ``@authority`` is left out on purpose: a reverse proxy in
# front of the gateway rewrites Host, and the secret is the gateway's alone.
COVERED: Final = ("@method", "@path", "@query", "content-digest")
NONCE_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:~-]{8,128}$")
# The origin is never signed (see COVERED); the library only needs an absolute URL to parse.
_ORIGIN: Final = "http://gateway.invalid"


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` backend secret."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ConfigError("the backend secret is not whsec_ followed by base64") from None
    if len(key) < 24:
        raise ConfigError("the backend secret is shorter than 24 bytes")
    return key


def new_request_id() -> str:
    """A fresh request id (the signature's ``nonce``)."""
    return f"req_{uuid.uuid4().hex}"


@dataclass
class _Outgoing:
    """The view of a request the signer fills in (method, URL, header dict)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def sign_request(
    secret: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    request_id: str | None = None,
    created: datetime | None = None,
) -> dict[str, str]:
    """The ``Content-Digest``, ``Signature-Input`` and ``Signature`` headers for one request.

    ``target`` is the path with its query exactly as it will be sent (``/v1/x?a=1``). Reuse the
    same ``request_id`` to resend the same request: the gateway answers it from its memory.
    """
    request_id = request_id or new_request_id()
    if not NONCE_PATTERN.match(request_id):
        raise ValueError("a request id is 8-128 characters of A-Z a-z 0-9 . _ : ~ -")
    if not target.startswith("/"):
        raise ValueError("the target is a path, starting with /")
    message = _Outgoing(method=method.upper(), url=_ORIGIN + target)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: secret_key(secret)}),
    )
    signer.sign(
        message,
        key_id=KEY_ID,
        created=created or datetime.now(UTC),
        nonce=request_id,
        label=LABEL,
        covered_component_ids=COVERED[:-1],  # content-digest is added from ``body``
        body=body,
    )
    return message.headers
