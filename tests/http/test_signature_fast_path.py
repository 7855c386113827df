"""The gateway's verifier gives the RFC 9421 library's answer to every request.

``RequestVerifier`` reads the signer's own spelling itself and hands every other spelling, and
every refusal, to ``LibraryVerifier`` (the library). Differential properties: hypothesis signs
requests with the library's signer under many options, then re-spells, tampers and re-aims
them; both verifiers must give the same verified request or the same refusal, word for word.
Examples: RFC 9421's HMAC example (B.2.5) and its test request, RFC 9530's digests, and the
hostile spellings of tests/gateway/test_trust_boundary.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import MappingKeyResolver
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from bot.backend.signing import COVERED, KEY_ID, LABEL, secret_key, sign_request
from bot.errors import VerificationError
from bot.http.signatures import (
    LibraryVerifier,
    RequestVerifier,
    SignedRequest,
    signature_base,
)
from tests.support.clock import MovableClock
from tests.support.respell import respell, respellings

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3"
OTHER = "whsec_" + "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI="
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLOCK = MovableClock(NOW)
FAST = RequestVerifier(SECRET, CLOCK)
LIBRARY = LibraryVerifier(SECRET, CLOCK)

# RFC 9421 appendix B.1.5: the shared secret of the HMAC example, and B.2's test request.
RFC_KEY = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
RFC_SECRET = "whsec_" + RFC_KEY
RFC_CREATED = 1618884473
RFC_BODY = b'{"hello": "world"}'
# RFC 9530 appendix B.1 (and RFC 9421 B.2): the digests of that body.
RFC_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
RFC_SHA512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"

Outcome = SignedRequest | tuple[str, str]


def _outcome(check: Callable[[], SignedRequest]) -> Outcome:
    try:
        return check()
    except VerificationError as exc:
        return ("refused", str(exc))


def _both(
    method: str,
    target: str,
    fields: CIMultiDict[str],
    body: bytes,
    fast: RequestVerifier = FAST,
    library: LibraryVerifier = LIBRARY,
) -> Outcome:
    """The one answer of both verifiers (asserted equal); a request the fast reading accepts
    is one the library accepts, with the same result."""
    mine = _outcome(lambda: fast.check(method, target, fields, body))
    theirs = _outcome(lambda: library.check(method, target, fields, body))
    assert mine == theirs
    spelt = fast.signer_spelling(method, target, fields, body)
    assert spelt is None or spelt == theirs
    return mine


def _sign(
    method: str,
    target: str,
    body: bytes,
    *,
    secret: str = SECRET,
    key_id: str = KEY_ID,
    label: str = LABEL,
    covered: tuple[str, ...] = COVERED[:-1],
    created: datetime = NOW,
    expires: datetime | None = None,
    nonce: str | None = "req-12345678",
    tag: str | None = None,
    include_alg: bool = True,
) -> CIMultiDict[str]:
    """Headers the library's signer writes under these options (``content-digest`` added)."""

    class Message:
        def __init__(self) -> None:
            self.method, self.url = method, "http://gateway.invalid" + target
            self.headers: dict[str, str] = {}

    message = Message()
    HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: secret_key(secret)}),
    ).sign(
        message,
        key_id=key_id,
        created=created,
        expires=expires,
        nonce=nonce,
        label=label,
        tag=tag,
        include_alg=include_alg,
        covered_component_ids=covered,
        body=body,
    )
    return CIMultiDict(message.headers)


_targets = st.sampled_from(
    [
        "/v1/approvals",
        "/v1/approvals?",
        "/v1/approvals/T-1/withdraw",
        "/v1/me/binding?account_id=a1&channel=lark",
        "/v1/a%2Fb/c?x=%41&y=?/:@",
        "//double//slash",
        "/",
    ]
)
_methods = st.sampled_from(["POST", "GET", "DELETE", "M-SEARCH"])
_nonces = st.one_of(
    st.from_regex(r"[A-Za-z0-9._:~-]{8,40}", fullmatch=True),
    st.sampled_from([None, "short", "has space in it", "a" * 129, 'quo"te-12345']),
)
# One signer option at a time (or none), so each is seen on its own as well as mutated.
_options = st.sampled_from(
    [
        {},
        {"secret": OTHER},
        {"key_id": "other"},
        {"key_id": "Backend"},
        {"label": "pyhms"},
        {"covered": ("@path", "@method", "@query")},
        {"covered": ("@method", "@path")},
        {"covered": ("@method", "@path", "@query", "@authority")},
        {"covered": ("@method", '"@path"', "@query")},
        {"created": NOW - timedelta(minutes=6)},
        {"created": NOW - timedelta(seconds=301)},
        {"created": NOW + timedelta(minutes=5)},
        {"created": NOW + timedelta(seconds=301)},
        {"expires": NOW - timedelta(seconds=1)},
        {"expires": NOW + timedelta(minutes=1)},
        {"tag": "t"},
        {"include_alg": False},
    ]
)


def _mutations() -> st.SearchStrategy[tuple[str, str, str]]:
    """(header, how, text): one change a lenient or hostile sender might make to a field."""
    header = st.sampled_from(["Signature", "Signature-Input", "Content-Digest"])
    how = st.sampled_from(
        ["append", "prepend", "insert", "case", "split", "duplicate", "replace", "drop"]
    )
    text = st.sampled_from(
        [" ", "\t", "\x0b", "\xa0", "\r\n ", ",", ", x=:AAAA:", ';tag="t"', ";", "; ", "="]
    ) | st.sampled_from(["A", ":", "0", '"', "\\"])
    return st.tuples(header, how, text)


# Changes that keep a signature valid in RFC 8941's eyes but leave the signer's spelling:
# the library accepts them, the fast reading must hand them over.
_RESPELLINGS: list[tuple[str, ...]] = [
    ("Signature-Input", ";created=", ";created=0"),
    ("Signature-Input", ";created=", "; created="),
    ("Signature-Input", '"@method" "@path"', '"@method"  "@path"'),
    ("Signature-Input", ';keyid="backend";alg="hmac-sha256"', ';alg="hmac-sha256";keyid="backend"'),
    ("Signature-Input", "sig=", "sig=("),
    ("Signature", "=:", "= :"),
    ("Content-Digest", "sha-256=", "sha-256 ="),
    ("Content-Digest", "=:", "=:", "spare"),  # the same bytes, the spare bits of base64 set
    ("Signature", "=:", "=:", "spare"),
]


def _spare_bits(value: str) -> str:
    """``value`` (``name=:<base64 of 32 bytes>:``) with the last character's unused bits set:
    base64 that decodes to the same bytes but is not the canonical encoding."""
    last = value[-3]
    index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(last)
    spare = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[index | 3]
    return value[:-3] + spare + value[-2:]


@settings(max_examples=100, deadline=None)
@given(
    method=_methods, target=_targets, body=st.binary(max_size=48), nonce=_nonces, options=_options
)
def test_both_verifiers_give_one_answer_whatever_the_signer_chose(
    method: str, target: str, body: bytes, nonce: str | None, options: dict[str, object]
) -> None:
    _both(method, target, _sign(method, target, body, nonce=nonce, **options), body)  # type: ignore[arg-type]


@settings(max_examples=120, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=48),
    changes=st.lists(st.tuples(_mutations(), st.integers(0, 400)), min_size=1, max_size=2),
)
def test_both_verifiers_give_one_answer_to_every_re_spelling(
    method: str, target: str, body: bytes, changes: list[tuple[tuple[str, str, str], int]]
) -> None:
    fields = _sign(method, target, body)
    for change, at in changes:
        fields = respell(fields, change, at)
    _both(method, target, fields, body)


@settings(max_examples=50, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=48),
    other_method=st.sampled_from(["POST", "post", "GET", "GET "]),
    other_target=st.sampled_from(
        ["/v1/approvals", "/v1/approvals#f", "/v1/a%zz", "/v1/ä", "/v1/a b", "v1/approvals"]
    ),
    other_body=st.sampled_from([b"", b"{}", b"x"]),
)
def test_both_verifiers_refuse_credentials_re_aimed(
    method: str,
    target: str,
    body: bytes,
    other_method: str,
    other_target: str,
    other_body: bytes,
) -> None:
    fields = _sign(method, target, body)
    _both(other_method, other_target, fields, other_body)


@settings(max_examples=60, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=48),
    respelling=st.sampled_from(_RESPELLINGS),
)
def test_respellings_the_library_accepts_are_accepted_alike(
    method: str, target: str, body: bytes, respelling: tuple[str, ...]
) -> None:
    name, old, new, *how = respelling
    fields = _sign(method, target, body)
    fields[name] = _spare_bits(fields[name]) if how else fields[name].replace(old, new, 1)
    assert FAST.signer_spelling(method, target, fields, body) is None
    _both(method, target, fields, body)


@settings(max_examples=100, deadline=None)
@given(
    method=_methods,
    target=_targets,
    body=st.binary(max_size=200),
    request_id=st.from_regex(r"[A-Za-z0-9._:~-]{8,128}", fullmatch=True),
    skew=st.one_of(st.integers(-400, 400), st.sampled_from([-301, -300, 300, 301])),
    fraction=st.sampled_from([0.0, 0.25, 0.75]),
)
def test_the_signers_own_spelling_is_read_without_the_library(
    method: str, target: str, body: bytes, request_id: str, skew: int, fraction: float
) -> None:
    created = NOW + timedelta(seconds=skew)
    headers = sign_request(SECRET, method, target, body, request_id=request_id, created=created)
    fields = CIMultiDict({"Host": "gateway", "Content-Type": "application/json", **headers})
    clock = MovableClock(NOW + timedelta(seconds=fraction))  # the window is to the microsecond
    fast, library = RequestVerifier(SECRET, clock), LibraryVerifier(SECRET, clock)
    spelt = fast.signer_spelling(method, target, fields, body)
    answer = _both(method, target, fields, body, fast, library)
    if abs(skew - fraction) > 300:  # outside the window: refused, in the library's words
        assert spelt is None and isinstance(answer, tuple) and "window" in answer[1]
    else:
        assert spelt is not None and spelt.request_id == request_id and spelt == answer


_COVERED = '("@method" "@path" "@query" "content-digest")'
_CREATED = int(NOW.timestamp())
_REST = 'keyid="backend";alg="hmac-sha256";nonce="req-12345678"'


@pytest.mark.parametrize(
    ("params", "accepted"),
    [
        (f"{_COVERED};created=0{_CREATED};{_REST}", False),
        (f"{_COVERED};created={_CREATED}; {_REST}", False),
        (f"{_COVERED} ;created={_CREATED};{_REST}", False),
        (f'{_COVERED};created={_CREATED};{_REST};nonce="req-87654321"', False),
        (f"{_COVERED};created={_CREATED};{_REST}", True),  # the serialization itself
    ],
)
def test_a_mac_over_text_that_is_not_the_serialization_is_refused_alike(
    params: str, accepted: bool
) -> None:
    """A signer that MACs its own text instead of RFC 8941's serialization of it: the library
    rebuilds the base from the parsed values, so only the canonical text verifies."""
    body = b"{}"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    base = signature_base(
        [
            ("@method", "POST"),
            ("@path", "/v1/approvals"),
            ("@query", "?"),
            ("content-digest", digest),
        ],
        params,
    )
    mac = base64.b64encode(hmac.digest(secret_key(SECRET), base, "sha256")).decode()
    fields = CIMultiDict(
        {"Content-Digest": digest, "Signature-Input": f"sig={params}", "Signature": f"sig=:{mac}:"}
    )
    answer = _both("POST", "/v1/approvals", fields, body)
    assert isinstance(answer, SignedRequest) is accepted


@pytest.mark.parametrize(
    ("method", "target", "path", "query", "accepted"),
    [
        ("post", "/v1/approvals", "/v1/approvals", "?", False),
        ("POST", "/v1/approvals#f", "/v1/approvals", "?", True),  # the library drops a fragment
        ("POST", "/v1/approvals?a=1#f", "/v1/approvals", "?a=1#f", False),
        ("POST", "/v1/a%zz", "/v1/a%zz", "?", False),
        ("POST", "/v1/a b", "/v1/a b", "?", False),
        ("POST", "/v1/a%", "/v1/a%", "?", False),
        ("POST", "v1/approvals", "v1/approvals", "?", False),
        ("POST", "/v1/approvals?q=%41", "/v1/approvals", "?q=%41", True),
    ],
)
def test_a_request_line_signed_as_sent_is_judged_alike(
    method: str, target: str, path: str, query: str, accepted: bool
) -> None:
    """A signer that puts the method and target in the base as it sends them, whatever RFC
    9421's grammar says of them: both verifiers answer alike."""
    body = b"{}"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    params = f"{_COVERED};created={_CREATED};{_REST}"
    components = [("@method", method), ("@path", path), ("@query", query)]
    base = signature_base([*components, ("content-digest", digest)], params)
    mac = base64.b64encode(hmac.digest(secret_key(SECRET), base, "sha256")).decode()
    fields = CIMultiDict(
        {"Content-Digest": digest, "Signature-Input": f"sig={params}", "Signature": f"sig=:{mac}:"}
    )
    answer = _both(method, target, fields, body)
    assert isinstance(answer, SignedRequest) is accepted


def test_rfc_9421_hmac_example_b25() -> None:
    """The signature base and HMAC-SHA256 of RFC 9421 B.2.5, as published; that request
    covers none of what this profile requires, and both verifiers refuse it alike."""
    params = '("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
    base = signature_base(
        [
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("@authority", "example.com"),
            ("content-type", "application/json"),
        ],
        params,
    )
    mac = hmac.digest(base64.b64decode(RFC_KEY), base, "sha256")
    assert base64.b64encode(mac).decode() == "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8="
    fields = CIMultiDict(
        {
            "Host": "example.com",
            "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
            "Content-Type": "application/json",
            "Content-Digest": RFC_SHA512,
            "Content-Length": "18",
            "Signature-Input": f"sig-b25={params}",
            "Signature": "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
        }
    )
    clock = MovableClock(float(RFC_CREATED))
    answer = _both(
        "POST",
        "/foo?param=Value&Pet=dog",
        fields,
        RFC_BODY,
        RequestVerifier(RFC_SECRET, clock),
        LibraryVerifier(RFC_SECRET, clock),
    )
    assert isinstance(answer, tuple) and "verification key" in answer[1]


@pytest.mark.parametrize(("digest", "fast_read"), [(RFC_SHA256, True), (RFC_SHA512, False)])
def test_this_profile_over_the_rfc_test_request(digest: str, fast_read: bool) -> None:
    """RFC 9421 B.2's test request signed in this profile, its base written by hand from RFC
    9421 section 2.2 (``@path`` and ``@query`` as sent, ``?`` kept) with RFC 9530's digest
    of its body: accepted by both (sha-512 through the library)."""
    params = (
        '("@method" "@path" "@query" "content-digest");created=1618884473;keyid="backend";'
        'alg="hmac-sha256";nonce="req-rfc9421-b2"'
    )
    base = (
        '"@method": POST\n"@path": /foo\n"@query": ?param=Value&Pet=dog\n'
        f'"content-digest": {digest}\n"@signature-params": {params}'
    )
    mac = hmac.digest(base64.b64decode(RFC_KEY), base.encode(), "sha256")
    fields = CIMultiDict(
        {
            "Content-Digest": digest,
            "Signature-Input": f"sig={params}",
            "Signature": f"sig=:{base64.b64encode(mac).decode()}:",
        }
    )
    clock = MovableClock(float(RFC_CREATED))
    fast, library = RequestVerifier(RFC_SECRET, clock), LibraryVerifier(RFC_SECRET, clock)
    target = "/foo?param=Value&Pet=dog"
    answer = _both("POST", target, fields, RFC_BODY, fast, library)
    assert isinstance(answer, SignedRequest) and answer.request_id == "req-rfc9421-b2"
    assert (fast.signer_spelling("POST", target, fields, RFC_BODY) is not None) is fast_read
    tampered = _both("POST", target, fields, RFC_BODY.replace(b"world", b"there"), fast, library)
    assert isinstance(tampered, tuple)


@pytest.mark.parametrize("at", range(10))
def test_the_hostile_spellings_get_the_librarys_answer(at: int) -> None:
    body = b'{"ticket_id": "T-1"}'
    headers = sign_request(SECRET, "POST", "/v1/approvals", body, created=NOW)
    answer = _both("POST", "/v1/approvals", CIMultiDict(respellings(headers)[at]), body)
    if isinstance(answer, SignedRequest):  # accepted only under the original's key
        original = FAST.check("POST", "/v1/approvals", CIMultiDict(headers), body)
        assert (answer.request_id, answer.request_hash) == (
            original.request_id,
            original.request_hash,
        )
