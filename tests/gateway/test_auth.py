"""Every inbound call is authenticated: Standard Webhooks for the backend, tokens for people."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts, row_counts


def _ticket(ticket_id: str = "T-AUTH") -> bytes:
    return json.dumps(sample_ticket(ticket_id, [approver("a1", "Ann")])).encode()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_valid_signature_is_accepted(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    status, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, backend.sign(body))
    assert status == 202, answer


async def test_wrong_secret_is_refused(stack: object) -> None:
    gateway, _, _ = parts(stack)
    body = _ticket()
    from bot.sandbox.backend import SandboxBackend

    impostor = SandboxBackend(secret="whsec_" + "A" * 43)
    status, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, impostor.sign(body))
    assert status == 401
    assert answer["error"]["code"] == "unauthenticated"
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


async def test_tampered_body_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(body)
    tampered = body.replace(b"Ann", b"Eve")
    status, _ = await _post(f"{gateway.gateway.url}/v1/approvals", tampered, headers)
    assert status == 401


async def test_stale_timestamp_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(body, at=datetime.now(UTC) - timedelta(minutes=6))
    status, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    assert status == 401
    assert "window" in answer["error"]["message"]


async def test_future_timestamp_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(body, at=datetime.now(UTC) + timedelta(minutes=6))
    status, _ = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    assert status == 401


async def test_replayed_signature_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = _ticket()
    headers = backend.sign(body)
    first, _ = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    again, answer = await _post(f"{gateway.gateway.url}/v1/approvals", body, headers)
    assert (first, again) == (202, 401)
    assert "replay" in answer["error"]["message"]


async def test_missing_headers_are_refused(stack: object) -> None:
    gateway, _, _ = parts(stack)
    status, answer = await _post(
        f"{gateway.gateway.url}/v1/approvals", _ticket(), {"content-type": "application/json"}
    )
    assert status == 401
    assert "webhook-signature" in answer["error"]["message"]


def _sign_bytes(secret: str, body: bytes) -> dict[str, str]:
    # The package signs text only; a sender may still put arbitrary bytes on the wire, so sign
    # them per the Standard Webhooks spec: HMAC-SHA256 over "{id}.{timestamp}.{body}".
    key = base64.b64decode(secret.removeprefix("whsec_"))
    stamp = str(int(datetime.now(UTC).timestamp()))
    mac = hmac.new(key, b"msg_raw." + stamp.encode() + b"." + body, hashlib.sha256).digest()
    return {
        "webhook-id": "msg_raw",
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


async def test_signed_garbage_is_a_400_not_a_500(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    for body in (b"{not json", b"\xff\xfe\x00"):
        headers = _sign_bytes(backend.secret, body)
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
