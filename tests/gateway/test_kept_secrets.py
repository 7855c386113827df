"""A signed write whose answer holds a secret gives it once: a resend of the same request, by the
client or by whoever captured it inside the signature window, gets ``409 answer_withheld``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import aiohttp

from tests.gateway.helpers import parts


async def _send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, str | None]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/me/binding-codes", data=body, headers=headers) as r,
    ):
        return r.status, json.loads(await r.text()), r.headers.get("Idempotent-Replayed")


def _codes(db: Any) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM binding_codes").fetchone()[0])


async def test_a_captured_binding_code_request_resent_gets_no_code(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    body = json.dumps({"account_id": "acct-victim"}).encode()
    captured = backend.sign("POST", "/v1/me/binding-codes", body)
    status, first, _ = await _send(gateway.gateway.url, body, captured)
    assert status == 201 and first["code"]
    status, again, replayed = await _send(gateway.gateway.url, body, captured)
    assert (status, replayed) == (409, "true"), again
    assert again["error"]["code"] == "answer_withheld"
    assert set(again["error"]["fields"]) == {"code", "command"}
    assert "new request id" in again["error"]["message"]
    assert first["code"] not in json.dumps(again)
    assert _codes(gateway.gateway.settings.db_path) == 1  # acted once


async def test_a_new_request_id_is_how_to_get_a_new_code(stack: object) -> None:
    _gateway, backend, _ = parts(stack)
    body = {"account_id": "a1"}
    first = await backend.call("POST", "/v1/me/binding-codes", body, request_id="req-code-a")
    withheld = await backend.call("POST", "/v1/me/binding-codes", body, request_id="req-code-a")
    fresh = await backend.call("POST", "/v1/me/binding-codes", body, request_id="req-code-b")
    assert (first[0], withheld[0], fresh[0]) == (201, 409, 201)
    assert fresh[1]["code"] != first[1]["code"]
