"""Every inbound call is authenticated: RFC 9421 signatures for the backend, tokens for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp

from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts, row_counts


def _ticket(ticket_id: str = "T-AUTH") -> bytes:
    return json.dumps(sample_ticket(ticket_id, [approver("a1", "Ann")])).encode()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_valid_signature_is_accepted(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    status, answer = await _post(
        f"{gateway.gateway.url}/v1/approvals", body, backend.sign("POST", "/v1/approvals", body)
    )
    assert status == 202, answer


async def test_wrong_secret_is_refused(stack: object) -> None:
    gateway, _, _ = parts(stack)
    body = _ticket()
    from sandbox.backend import SandboxBackend

    impostor = SandboxBackend(secret="whsec_" + "A" * 44)
    status, answer = await _post(
        f"{gateway.gateway.url}/v1/approvals", body, impostor.sign("POST", "/v1/approvals", body)
    )
    assert status == 401
    assert answer["error"]["code"] == "unauthenticated"
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


async def test_tampered_body_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign("POST", "/v1/approvals", body)
    tampered = body.replace(b"Ann", b"Eve")
    status, _ = await _post(f"{gateway.gateway.url}/v1/approvals", tampered, headers)
    assert status == 401


async def test_stale_timestamp_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(
        "POST", "/v1/approvals", body, at=datetime.now(UTC) - timedelta(minutes=6)
    )
    status, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    assert status == 401
    assert "window" in answer["error"]["message"]


async def test_future_timestamp_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(
        "POST", "/v1/approvals", body, at=datetime.now(UTC) + timedelta(minutes=6)
    )
    status, _ = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    assert status == 401


async def test_an_exact_resend_gets_the_first_answer(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign("POST", "/v1/approvals", body)
    url = f"{gateway.gateway.url}/v1/approvals"
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=body, headers=headers) as r:
            first = (r.status, await r.json(), r.headers.get("idempotent-replayed"))
        async with s.post(url, data=body, headers=headers) as r:
            again = (r.status, await r.json(), r.headers.get("idempotent-replayed"))
    assert first[0] == again[0] == 202
    assert first[1] == again[1]
    assert (first[2], again[2]) == (None, "true")
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 1


async def test_missing_headers_are_refused(stack: object) -> None:
    gateway, _, _ = parts(stack)
    status, answer = await _post(
        f"{gateway.gateway.url}/v1/approvals", _ticket(), {"content-type": "application/json"}
    )
    assert status == 401
    assert "signature" in answer["error"]["message"]


async def test_signed_garbage_is_a_400_not_a_500(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    for body in (b"{not json", b"\xff\xfe\x00"):
        headers = backend.sign("POST", "/v1/approvals", body)
        status, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
        assert status == 400, answer
        assert answer["error"]["fields"] == {"body": "invalid JSON"}


async def test_trace_needs_a_signature_or_a_token(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    await backend.submit(sample_ticket("T-TRACE", [approver("a1", "Ann")]))
    url = f"{gateway.gateway.url}/v1/approvals/T-TRACE"
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            assert r.status == 401
        async with s.get(url, headers={"authorization": "Bearer agw_nope"}) as r:
            assert r.status == 401
    status, body = await backend.trace("T-TRACE")
    assert status == 200 and body["ticket_id"] == "T-TRACE"
