"""Sign every request an httpx client sends with the gateway's RFC 9421 scheme.

The gateway verifies an HMAC-SHA256 HTTP Message Signature (RFC 9421) over ``@method``,
``@path``, ``@query`` and an RFC 9530 ``Content-Digest`` of the body, with ``created`` and
``nonce`` (the request id) as signed parameters, keyed by the base64 part of the ``whsec_``
backend secret (``keyid="backend"``). This module does it as an httpx *event hook*, so any httpx
client, including one generated from ``/v1/openapi.json``, signs without further code::

    signer = Rfc9421Signer(secret)
    client = httpx.Client(base_url=url, event_hooks={"request": [signer]})
    async_client = httpx.AsyncClient(base_url=url, event_hooks={"request": [signer.async_hook]})

The request id is read from the request's ``X-Request-Id`` header when the caller sets it (a
resend sets the same one, and the gateway acts once); otherwise a fresh one is made and the header
set, so the caller can read it back from ``response.request.headers``.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import MappingKeyResolver

REQUEST_ID = "X-Request-Id"
KEY_ID = "backend"


def new_request_id() -> str:
    """A fresh request id (8-128 of ``A-Z a-z 0-9 . _ : ~ -``)."""
    return f"req_{uuid.uuid4().hex}"


@dataclass
class _Message:
    """The shape the signing library fills in: method, URL, header dict."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class Rfc9421Signer:
    """An httpx request hook that adds ``Content-Digest``, ``Signature-Input`` and ``Signature``."""

    def __init__(self, secret: str) -> None:
        key = base64.b64decode(secret.strip().removeprefix("whsec_"), validate=True)
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.HMAC_SHA256,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: key}),
        )

    def __call__(self, request: httpx.Request) -> None:
        """Sign ``request`` in place (the hook for ``httpx.Client``)."""
        request_id = request.headers.get(REQUEST_ID) or new_request_id()
        request.headers[REQUEST_ID] = request_id
        # The path and query exactly as they go on the wire: that is what the gateway checks.
        message = _Message(request.method, str(request.url.copy_with(fragment=None)))
        self._signer.sign(
            message,
            key_id=KEY_ID,
            label="sig",
            nonce=request_id,
            created=datetime.now(UTC),
            covered_component_ids=("@method", "@path", "@query"),
            body=request.read(),  # adds content-digest, and covers it
        )
        request.headers.update(message.headers)

    async def async_hook(self, request: httpx.Request) -> None:
        """Sign ``request`` in place (the hook for ``httpx.AsyncClient``)."""
        self(request)
