"""Every spelling of a signature the verifier accepts maps to one request id and one hash.

The replay and idempotency memory is keyed by what the verifier returns, so if a re-spelt header
were accepted under another key, one captured request could act twice. Properties, not examples:
hypothesis writes the spellings, and each must be refused or give the original's key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from bot.backend.signing import sign_request
from bot.errors import VerificationError
from bot.http.signatures import RequestVerifier
from tests.support.respell import respell

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class _Fixed:
    def now(self) -> datetime:
        return NOW


VERIFIER = RequestVerifier(SECRET, _Fixed())

_targets = st.sampled_from(
    ["/v1/approvals", "/v1/approvals/T-1/withdraw", "/v1/me/binding?account_id=a1&channel=lark"]
)
_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE"])
_ids = st.from_regex(r"[A-Za-z0-9._:~-]{8,40}", fullmatch=True)


def _mutations() -> st.SearchStrategy[tuple[str, str, str]]:
    """(header, how, text): one change a lenient or hostile sender might make to a header."""
    header = st.sampled_from(["Signature", "Signature-Input", "Content-Digest"])
    how = st.sampled_from(["append", "prepend", "insert", "case", "split", "duplicate"])
    text = st.sampled_from(
        [" ", ",", ", x=:AAAA:", ';tag="t"', ';nonce="other-id-1"', "=", "==", "A", ":", "\t"]
    )
    return st.tuples(header, how, text)


@settings(max_examples=300, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=64),
    request_id=_ids,
    changes=st.lists(st.tuples(_mutations(), st.integers(0, 400)), min_size=1, max_size=3),
)
def test_every_accepted_spelling_has_the_original_key(
    method: str,
    target: str,
    body: bytes,
    request_id: str,
    changes: list[tuple[tuple[str, str, str], int]],
) -> None:
    headers = sign_request(SECRET, method, target, body, request_id=request_id, created=NOW)
    original = VERIFIER.check(method, target, CIMultiDict(headers), body)
    assert original.request_id == request_id
    fields: CIMultiDict[str] = CIMultiDict(headers)
    for change, at in changes:
        fields = respell(fields, change, at)
    try:
        accepted = VERIFIER.check(method, target, fields, body)
    except VerificationError:
        return
    assert (accepted.request_id, accepted.request_hash) == (
        original.request_id,
        original.request_hash,
    )


@settings(max_examples=200, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=64),
    other_method=_methods,
    other_target=_targets,
    other_body=st.binary(max_size=64),
)
def test_credentials_never_verify_another_request(
    method: str,
    target: str,
    body: bytes,
    other_method: str,
    other_target: str,
    other_body: bytes,
) -> None:
    headers = CIMultiDict(sign_request(SECRET, method, target, body, created=NOW))
    if (method, target, body) == (other_method, other_target, other_body):
        VERIFIER.check(other_method, other_target, headers, other_body)
        return
    with pytest.raises(VerificationError):
        VERIFIER.check(other_method, other_target, headers, other_body)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_signature_outside_the_window_is_refused(skew: timedelta) -> None:
    headers = CIMultiDict(sign_request(SECRET, "POST", "/v1/approvals", b"{}", created=NOW + skew))
    with pytest.raises(VerificationError, match="window"):
        VERIFIER.check("POST", "/v1/approvals", headers, b"{}")
