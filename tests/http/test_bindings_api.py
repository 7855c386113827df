"""The admin bindings API: admins manage every binding; support and strangers may not."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.embedded import Embedded
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts


async def _token(stack: Embedded, role: str) -> tuple[str, str]:
    token = new_token()
    record = await TokenStore(stack.gateway.store).create(
        token, role, "test", stack.gateway.clock.now()
    )
    return token, record.id


async def _call(
    stack: Embedded, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = stack.gateway.url + path
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url, json=body, headers=headers) as r,
    ):
        return r.status, (await r.json() if r.content_type == "application/json" else None)


@pytest.fixture
async def admin(stack: object) -> tuple[Embedded, str, str]:
    embedded, _, _ = parts(stack)
    token, token_id = await _token(embedded, "admin")
    return embedded, token, token_id


async def test_put_get_delete_round_trip(admin: tuple[Embedded, str, str]) -> None:
    stack, token, token_id = admin
    status, put = await _call(
        stack,
        "PUT",
        "/v1/bindings/r-1",
        token,
        {"channel": "email", "address": "Rita@Corp.Example", "verified": True},
    )
    assert status == 200, put
    assert put["address"] == "Rita@corp.example"  # the domain is case-insensitive
    assert (put["bound_by"], put["method"]) == (token_id, "admin-verified")
    await _call(stack, "PUT", "/v1/bindings/r-1", token, {"channel": "lark", "address": "ou_1"})

    status, shown = await _call(stack, "GET", "/v1/bindings/r-1", token)
    assert status == 200
    assert [(b["channel"], b["address"]) for b in shown["bindings"]] == [
        ("email", "Rita@corp.example"),
        ("lark", "ou_1"),
    ]
    status, _ = await _call(stack, "DELETE", "/v1/bindings/r-1?channel=lark", token)
    assert status == 204
    status, again = await _call(stack, "DELETE", "/v1/bindings/r-1?channel=lark", token)
    assert status == 404 and again["error"]["code"] == "not_found"
    status, shown = await _call(stack, "GET", "/v1/bindings/r-1", token)
    assert [b["channel"] for b in shown["bindings"]] == ["email"]
    status, nobody = await _call(stack, "GET", "/v1/bindings/nobody", token)
    assert status == 200 and nobody == {"account_id": "nobody", "bindings": []}


async def test_list_is_paged_and_filtered(admin: tuple[Embedded, str, str]) -> None:
    stack, token, _ = admin
    for n in range(5):
        for channel in ("memory", "email"):
            address = f"a{n}@x.example" if channel == "email" else f"a{n}"
            body = {"channel": channel, "address": address, "verified": True}
            assert (await _call(stack, "PUT", f"/v1/bindings/a{n}", token, body))[0] == 200
    seen: list[tuple[str, str]] = []
    cursor = ""
    while True:
        status, page = await _call(stack, "GET", f"/v1/bindings?limit=3&cursor={cursor}", token)
        assert status == 200, page
        assert len(page["items"]) <= 3
        seen += [(b["account_id"], b["channel"]) for b in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == sorted((f"a{n}", c) for n in range(5) for c in ("email", "memory"))
    status, page = await _call(stack, "GET", "/v1/bindings?channel=email&limit=10", token)
    assert [b["account_id"] for b in page["items"]] == [f"a{n}" for n in range(5)]
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "telegram", "address": "x"}, "channel"),
        ({"channel": "email", "address": "not-an-email"}, "address"),
        ({"channel": "email", "address": "a@b"}, "address"),
        ({"channel": "email", "address": "a b@c.example"}, "address"),
        ({"channel": "lark", "address": "has space"}, "address"),
        ({"channel": "lark"}, "address"),
        ({"channel": "lark", "address": "ou_1", "extra": 1}, "extra"),
    ],
)
async def test_invalid_bindings_are_refused(
    admin: tuple[Embedded, str, str], body: dict[str, Any], field: str
) -> None:
    stack, token, _ = admin
    status, answer = await _call(stack, "PUT", "/v1/bindings/r-1", token, body)
    assert status == 422, answer
    assert field in answer["error"]["fields"]


async def test_bad_query_is_refused(admin: tuple[Embedded, str, str]) -> None:
    stack, token, _ = admin
    for query, field in (("limit=0", "limit"), ("cursor=zz", "cursor"), ("limit=x", "limit")):
        status, answer = await _call(stack, "GET", f"/v1/bindings?{query}", token)
        assert status == 422 and field in answer["error"]["fields"], (query, answer)
    status, answer = await _call(stack, "DELETE", "/v1/bindings/r-1", token)
    assert status == 422 and "channel" in answer["error"]["fields"]


CALLS = [
    ("GET", "/v1/bindings", None),
    ("GET", "/v1/bindings/r-1", None),
    ("PUT", "/v1/bindings/r-1", {"channel": "lark", "address": "ou_evil"}),
    ("DELETE", "/v1/bindings/r-1?channel=lark", None),
]


async def test_only_admins_may_touch_bindings(admin: tuple[Embedded, str, str]) -> None:
    stack, admin_token, _ = admin
    await _call(
        stack, "PUT", "/v1/bindings/r-1", admin_token, {"channel": "lark", "address": "ou_1"}
    )
    support, _ = await _token(stack, "support")
    revoked, revoked_id = await _token(stack, "admin")
    await TokenStore(stack.gateway.store).revoke(revoked_id, stack.gateway.clock.now())
    for method, path, body in CALLS:
        assert (await _call(stack, method, path, support, body))[0] == 403, (method, path)
        for bad in (None, "agw_wrong", revoked):
            status, answer = await _call(stack, method, path, bad, body)
            assert status == 401 and answer["error"]["code"] == "unauthenticated", (method, bad)
    _, shown = await _call(stack, "GET", "/v1/bindings/r-1", admin_token)
    assert [b["address"] for b in shown["bindings"]] == ["ou_1"]  # nothing changed


async def test_a_binding_set_over_the_api_routes_the_next_card(
    admin: tuple[Embedded, str, str],
) -> None:
    stack, token, _ = admin
    body = {"channel": "memory", "address": "desk-7"}
    assert (await _call(stack, "PUT", "/v1/bindings/a-9", token, body))[0] == 200
    backend = stack.backend
    assert backend is not None and stack.memory is not None
    await backend.submit(sample_ticket("T-BIND", [approver("a-9", "Ann")]))
    memory = stack.memory
    cards = await eventually(lambda: _held(memory, "desk-7"))
    assert len(cards) == 1


async def _held(memory: Any, address: str) -> list[Any]:
    return list(memory.held_by(address))


async def test_list_accounts_unbound_on_a_channel(admin: tuple[Embedded, str, str]) -> None:
    stack, token, _ = admin
    for account, channel in (("u-1", "lark"), ("u-1", "memory"), ("u-2", "memory")):
        body = {"channel": channel, "address": f"{account}-{channel}"}
        assert (await _call(stack, "PUT", f"/v1/bindings/{account}", token, body))[0] == 200
    status, page = await _call(stack, "GET", "/v1/bindings?unbound=true&channel=lark", token)
    assert status == 200, page
    assert [(b["account_id"], b["channel"]) for b in page["items"]] == [("u-2", "memory")]
    status, body = await _call(stack, "GET", "/v1/bindings?unbound=true", token)
    assert status == 422 and "channel" in body["error"]["fields"]
