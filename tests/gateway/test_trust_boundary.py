"""An attacker holding one captured signed request can make it act nowhere else and never twice.

Each test replays what a captured request allows: the same credentials re-spelt, re-aimed at
another path, ticket, query or account, or sent again. All through the HTTP API.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Gateway
from sandbox.tickets import approver, sample_ticket
from tests.gateway import admin
from tests.gateway.helpers import parts, row_counts, run_cli
from tests.support.respell import respellings

Headers = dict[str, str]


async def _send(
    url: str, method: str, target: str, body: bytes, headers: Headers
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url + target, data=body, headers=headers) as r,
    ):
        text = await r.text()
        return r.status, json.loads(text) if text else None


def _codes(db: Any) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM binding_codes").fetchone()[0])


async def test_respelt_credentials_mint_no_second_binding_code(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = json.dumps({"account_id": "victim"}).encode()
    captured = backend.sign("POST", "/v1/me/binding-codes", body)
    answers = [
        await _send(gateway.gateway.url, "POST", "/v1/me/binding-codes", body, h)
        for h in respellings(captured)
    ]
    accepted = [answer for status, answer in answers if status == 201]
    withheld = [answer["error"]["code"] for status, answer in answers if status == 409]
    assert {status for status, _ in answers} <= {201, 401, 409}, answers
    assert len(accepted) == 1, "one code, given once"
    assert withheld and set(withheld) == {"answer_withheld"}, answers
    assert _codes(gateway.gateway.settings.db_path) == 1


async def test_a_withdraw_signed_for_one_ticket_cannot_withdraw_another(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    for ticket_id in ("T-A", "T-B"):
        await backend.submit(sample_ticket(ticket_id, [approver("a1", "Ann")]))
    body = b"{}"
    captured = backend.sign("POST", "/v1/approvals/T-A/withdraw", body)
    status, _ = await _send(
        gateway.gateway.url, "POST", "/v1/approvals/T-B/withdraw", body, captured
    )
    assert status == 401
    _, trace = await backend.trace("T-B")
    assert trace["status"] == "pending"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("DELETE", "/v1/me/binding?account_id=victim&channel=lark"),
        ("GET", "/v1/me/binding?account_id=victim"),
        ("POST", "/v1/approvals/T-A/withdraw"),
    ],
)
async def test_a_captured_read_authorises_nothing_else(
    stack: object, method: str, target: str
) -> None:
    gateway, backend, _ = parts(stack)
    await backend.submit(sample_ticket("T-A", [approver("a1", "Ann")]))
    captured = backend.sign("GET", "/v1/approvals/T-A")
    status, answer = await _send(gateway.gateway.url, method, target, b"", captured)
    assert status == 401, answer
    _, trace = await backend.trace("T-A")
    assert trace["status"] == "pending"


async def test_the_acting_account_cannot_be_swapped(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    await _bind(gateway.gateway, "victim", "lark", "ou_victim")
    captured = backend.sign("DELETE", "/v1/me/binding?account_id=me&channel=lark")
    status, _ = await _send(
        gateway.gateway.url,
        "DELETE",
        "/v1/me/binding?account_id=victim&channel=lark",
        b"",
        captured,
    )
    assert status == 401
    body = json.dumps({"account_id": "me"}).encode()
    captured = backend.sign("POST", "/v1/me/binding-codes", body)
    swapped = json.dumps({"account_id": "victim"}).encode()
    status, _ = await _send(gateway.gateway.url, "POST", "/v1/me/binding-codes", swapped, captured)
    assert status == 401
    assert _codes(gateway.gateway.settings.db_path) == 0


async def test_a_resend_within_the_same_second_gets_the_first_answer(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-SAME", [approver("a1", "Ann")])
    first = await backend.submit(ticket, request_id="req-same-second")
    again = await backend.submit(ticket, request_id="req-same-second")
    assert first[0] == again[0] == 202 and first[1] == again[1]
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 1


async def test_a_refused_write_keeps_nothing_and_can_be_asked_again(stack: object) -> None:
    _gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-LATER", [approver("a1", "Ann")])
    missing = await backend.call(
        "POST", "/v1/approvals/T-LATER/withdraw", {}, request_id="req-withdraw-1"
    )
    assert missing[0] == 404
    await backend.submit(ticket)
    status, body = await backend.call(
        "POST", "/v1/approvals/T-LATER/withdraw", {}, request_id="req-withdraw-1"
    )
    assert status == 200 and body["status"] == "withdrawn"


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "body",
    [
        _deep(100_000),
        b'{"ticket_id": "T-N", "title": ' + b"9" * 5000 + b"}",
        json.dumps(
            {
                **sample_ticket("T-FAR", [approver("a1", "Ann")]),
                "expires_at": "9999-12-31T23:59:59-05:00",
            }
        ).encode(),
        b'{"ticket_id": "\xff\xfe"}',
        b'{"ticket_id": "T-X", "title": 1e999999}',
    ],
    ids=["deep", "huge-number", "far-date", "bad-utf8", "huge-float"],
)
async def test_hostile_bodies_are_a_4xx_with_fields(stack: object, body: bytes) -> None:
    gateway, backend, _ = parts(stack)
    headers = backend.sign("POST", "/v1/approvals", body)
    status, answer = await _send(gateway.gateway.url, "POST", "/v1/approvals", body, headers)
    assert 400 <= status < 500, answer
    assert answer["error"]["fields"], answer
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


async def test_a_wrong_content_type_is_refused(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = json.dumps(sample_ticket("T-CT", [approver("a1", "Ann")])).encode()
    headers = {**backend.sign("POST", "/v1/approvals", body), "content-type": "text/plain"}
    status, answer = await _send(gateway.gateway.url, "POST", "/v1/approvals", body, headers)
    assert status == 415, answer
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


@pytest.mark.parametrize(
    "query", ["to=9999-12-31T23:59:59-05:00", "from=0001-01-01T00:00:00%2B05:00", "limit=1e9"]
)
async def test_hostile_queries_are_a_4xx(stack: object, query: str) -> None:
    gateway, _backend, _ = parts(stack)
    token = await _admin_token(gateway.gateway)
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{gateway.gateway.url}/v1/audit?{query}",
            headers={"authorization": f"Bearer {token}"},
        ) as r,
    ):
        assert 400 <= r.status < 500, await r.text()


async def _admin_token(gateway: Gateway) -> str:
    return await admin.token(gateway, "admin")


async def _bind(gateway: Gateway, account_id: str, channel: str, address: str) -> None:
    token = await _admin_token(gateway)
    body = {"channel": channel, "address": address}
    status, answer = await admin.call(gateway, "PUT", f"/v1/bindings/{account_id}", token, body)
    assert status == 200, answer


def _on_disk(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("gateway.db*")))


async def test_a_kept_answer_is_sealed_and_opens_after_a_key_rotation(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-SEALED", [approver("a1", "Ann")])
    status, first = await backend.submit(ticket, request_id="req-sealed-1")
    assert status == 202
    data_dir = gateway.gateway.settings.data_dir
    assert first["request_id"].encode() not in _signed_answers(gateway.gateway.settings.db_path)
    rotated = await run_cli("keys", "rotate", data_dir=data_dir)
    assert rotated.code == 0, rotated.output
    status, again = await backend.submit(ticket, request_id="req-sealed-1")
    assert (status, again) == (202, first)


async def test_a_binding_code_is_never_kept_even_sealed(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = {"account_id": "a1"}
    status, first = await backend.call(
        "POST", "/v1/me/binding-codes", body, request_id="req-code-1"
    )
    assert status == 201
    data_dir = gateway.gateway.settings.data_dir
    code = first["code"].encode()
    assert code not in _on_disk(data_dir) and code.replace(b"-", b"") not in _on_disk(data_dir)
    rotated = await run_cli("keys", "rotate", data_dir=data_dir)
    assert rotated.code == 0, rotated.output
    status, again = await backend.call(
        "POST", "/v1/me/binding-codes", body, request_id="req-code-1"
    )
    assert status == 409 and again["error"]["code"] == "answer_withheld"


def _signed_answers(db: Path) -> bytes:
    with sqlite3.connect(db) as conn:
        return b"".join(bytes(row[0]) for row in conn.execute("SELECT body FROM signed_answers"))


async def test_an_admin_write_in_another_content_type_is_refused(stack: object) -> None:
    gateway, _, _ = parts(stack)
    token = await _admin_token(gateway.gateway)
    body = json.dumps({"channel": "lark", "address": "ou_x"}).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.put(
            f"{gateway.gateway.url}/v1/bindings/a1",
            data=body,
            headers={"authorization": f"Bearer {token}", "content-type": "text/plain"},
        ) as r,
    ):
        assert r.status == 415, await r.text()
        assert (await r.json())["error"]["fields"] == {"content-type": "must be application/json"}
    assert row_counts(gateway.gateway.settings.db_path)["bindings"] == 0
