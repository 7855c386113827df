"""Admin and support calls on a running gateway's HTTP API, with bearer tokens."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.app.runtime import Gateway
from bot.http.auth import new_token
from bot.store.tokens import TokenStore


async def token(gateway: Gateway, role: str) -> str:
    """A fresh bearer token of ``role``."""
    value = new_token()
    await TokenStore(gateway.store).create(value, role, "test", gateway.clock.now())
    return value


async def call(
    gateway: Gateway, method: str, path: str, bearer: str | None, body: Any = None
) -> tuple[int, Any]:
    """One request; the JSON answer (None when it is not JSON)."""
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, gateway.url + path, json=body, headers=headers) as r,
    ):
        return r.status, (await r.json() if r.content_type == "application/json" else None)


async def authorize(gateway: Gateway, bearer: str, channel: str, **extra: Any) -> tuple[int, Any]:
    """Accept the channel's current notice (with ``extra`` fields, e.g. credentials)."""
    _, notice = await call(gateway, "GET", f"/v1/channels/{channel}/authorization", bearer)
    body = {"accept_notice": True, "notice_version": notice["version"], **extra}
    return await call(gateway, "POST", f"/v1/channels/{channel}/authorization", bearer, body)


async def audit(gateway: Gateway, bearer: str, action: str) -> list[dict[str, Any]]:
    """The audit records of one action, newest first."""
    status, page = await call(gateway, "GET", f"/v1/audit?action={action}", bearer)
    assert status == 200, page
    items: list[dict[str, Any]] = page["items"]
    return items
