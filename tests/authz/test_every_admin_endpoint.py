"""Every endpoint for people refuses missing, wrong, revoked and under-privileged tokens.

One table of every admin and support endpoint, so a new route cannot forget its check unnoticed:
``test_the_table_lists_every_token_route`` fails when a route is added without a row here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.http.auth import new_token
from bot.store.tokens import TokenStore

ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("GET", "/v1/audit", None),
    ("GET", "/v1/bindings", None),
    ("GET", "/v1/bindings/acc-1", None),
    ("PUT", "/v1/bindings/acc-1", {"channel": "memory", "address": "acc-1"}),
    ("DELETE", "/v1/bindings/acc-1?channel=memory", None),
    ("POST", "/v1/bindings/lookup", {"lark_email": "a@example.com"}),
    ("POST", "/v1/channels/memory/authorization", {"accept_notice": True, "notice_version": "x"}),
    ("DELETE", "/v1/channels/memory/authorization", None),
    ("GET", "/v1/accounts/acc-1/preferences", None),
    ("PUT", "/v1/accounts/acc-1/preferences", {"email_enabled": False}),
]
SUPPORT_TOO: list[tuple[str, str, Any]] = [
    ("GET", "/v1/channels", None),
    ("GET", "/v1/channels/memory/authorization", None),
    ("GET", "/v1/usage", None),
    ("POST", "/v1/cards/test", {"channel": "memory", "account_id": "acc-1"}),
]


async def _status(stack: Any, method: str, path: str, body: Any, token: str | None) -> int:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, stack.gateway.url + path, json=body, headers=headers) as r,
    ):
        return r.status


async def _tokens(stack: Any) -> dict[str, str]:
    repo = TokenStore(stack.gateway.store)
    now = datetime.now(UTC)
    tokens = {role: new_token() for role in ("admin", "support", "revoked")}
    await repo.create(tokens["admin"], "admin", "a", now)
    await repo.create(tokens["support"], "support", "s", now)
    revoked = await repo.create(tokens["revoked"], "admin", "r", now)
    await repo.revoke(revoked.id, now)
    return tokens


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY + SUPPORT_TOO)
async def test_strangers_are_refused(stack: object, method: str, path: str, body: Any) -> None:
    tokens = await _tokens(stack)
    assert await _status(stack, method, path, body, None) == 401
    assert await _status(stack, method, path, body, "agw_not-a-real-token") == 401
    assert await _status(stack, method, path, body, tokens["revoked"]) == 401


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_support_may_not_administer(stack: object, method: str, path: str, body: Any) -> None:
    tokens = await _tokens(stack)
    assert await _status(stack, method, path, body, tokens["support"]) == 403
    # …and the admin token gets past the check (whatever the request's own merits).
    assert await _status(stack, method, path, body, tokens["admin"]) not in (401, 403)


def test_the_table_lists_every_token_route() -> None:
    from bot.http import audit, bindings, channels, preferences, sendtest, usage

    routed = {
        (route.method, route.path.replace("{account_id:.+}", "{account_id}"))
        for module in (audit, bindings, channels, preferences, sendtest, usage)
        for route in module.routes
        # /v1/me routes take the backend's signature, not a person's token
        if isinstance(route, web.RouteDef) and not route.path.startswith("/v1/me/")
    }
    listed = {
        (m, p.split("?")[0].replace("acc-1", "{account_id}").replace("memory", "{channel}"))
        for m, p, _ in ADMIN_ONLY + SUPPORT_TOO
    }
    assert routed == listed
