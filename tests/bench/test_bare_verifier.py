"""The bench's standard-library baseline checks what the gateway's intake checks: it accepts
what ``bot.backend.signing`` signs and refuses each tampering the gateway's verifier refuses (so the
baseline is cheaper only by its means, never by checking less)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.bare import Refused, StdlibVerifier
from bot.backend.signing import sign_request

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy"
BODY = b'{"ticket_id": "T-1"}'


def _headers(**changes: object) -> dict[str, str]:
    signed = sign_request(SECRET, "POST", "/v1/approvals", BODY, request_id="req-12345678")
    return {k.lower(): v for k, v in signed.items()} | {k: str(v) for k, v in changes.items()}


def test_accepts_what_the_gateway_signer_signs() -> None:
    nonce = StdlibVerifier(SECRET).check("POST", "/v1/approvals", "", _headers(), BODY)
    assert nonce == "req-12345678"


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("PUT", "/v1/approvals", "", BODY),
        ("POST", "/v1/other", "", BODY),
        ("POST", "/v1/approvals", "a=1", BODY),
        ("POST", "/v1/approvals", "", BODY + b" "),
    ],
)
def test_refuses_another_method_path_query_or_body(
    method: str, path: str, query: str, body: bytes
) -> None:
    with pytest.raises(Refused):
        StdlibVerifier(SECRET).check(method, path, query, _headers(), body)


def test_refuses_another_key_or_a_signature_outside_the_window() -> None:
    other = "whsec_" + "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI="
    with pytest.raises(Refused):
        StdlibVerifier(other).check("POST", "/v1/approvals", "", _headers(), BODY)
    old = datetime.now(UTC) - timedelta(minutes=6)
    stale = sign_request(SECRET, "POST", "/v1/approvals", BODY, created=old)
    with pytest.raises(Refused):
        StdlibVerifier(SECRET).check(
            "POST", "/v1/approvals", "", {k.lower(): v for k, v in stale.items()}, BODY
        )


def test_refuses_a_digest_that_is_not_the_bodys() -> None:
    forged = _headers(**{"content-digest": "sha-256=:" + "A" * 43 + "=:"})
    with pytest.raises(Refused):
        StdlibVerifier(SECRET).check("POST", "/v1/approvals", "", forged, BODY)
