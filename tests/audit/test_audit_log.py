"""The audit log records decisions, refused clicks, binding and token changes; admins read it."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.core.models import ClickAction
from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts


async def _token(stack: Any, role: str) -> str:
    token = new_token()
    await TokenStore(stack.gateway.store).create(token, role, "t", datetime.now(UTC), by="setup")
    return token


async def _get(stack: Any, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(stack.gateway.url + path, headers=headers) as r:
        return r.status, await r.json()


async def _flow(stack: Any, admin: str) -> None:
    _, backend, memory = parts(stack)
    async with aiohttp.ClientSession() as s:
        url = f"{stack.gateway.url}/v1/bindings/acc-9"
        headers = {"authorization": f"Bearer {admin}"}
        async with s.put(url, json={"channel": "memory", "address": "acc-9"}, headers=headers) as r:
            assert r.status == 200, await r.text()
    _, receipt = await backend.submit(
        sample_ticket("T-AUD", [approver("a1", "Ann"), approver("a2", "Bob")])
    )
    cards = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}
    await asyncio.wait_for(memory.wait_for(cards["a2"]), 10)
    await memory.click("mallory", cards["a1"], ClickAction.APPROVE)
    await memory.click("a1", cards["a1"], ClickAction.APPROVE, "ok")
    await memory.click("a2", cards["a2"], ClickAction.REJECT, "late")


async def test_admins_read_who_did_what(stack: object) -> None:
    admin = await _token(stack, "admin")
    await _flow(stack, admin)
    status, page = await _get(stack, "/v1/audit", admin)
    assert status == 200
    seen = {(e["action"], e["who"], e["target"], e["detail"]) for e in page["items"]}
    assert ("decision.approved", "a1", "T-AUD", "via memory as a1") in seen
    assert ("click.refused", "memory:mallory", "T-AUD", "not_approver") in seen
    assert ("click.refused", "memory:a2", "T-AUD", "already_decided") in seen
    assert ("binding.set", page["items"][-1]["who"], "acc-9/memory", "admin-api") in seen or any(
        e["action"] == "binding.set" and e["target"] == "acc-9/memory" for e in page["items"]
    )
    assert any(e["action"] == "token.create" and e["who"] == "setup" for e in page["items"])
    only = (await _get(stack, "/v1/audit?action=decision.approved", admin))[1]["items"]
    assert [(e["who"], e["source"]) for e in only] == [("a1", "memory")]
    assert (await _get(stack, "/v1/audit?from=2000-01-01&to=2000-01-02", admin))[1]["items"] == []
    assert (await _get(stack, "/v1/audit?from=yesterday", admin))[0] == 422


async def test_only_admins_read_the_audit_log(stack: object) -> None:
    support = await _token(stack, "support")
    assert (await _get(stack, "/v1/audit", support))[0] == 403
    assert (await _get(stack, "/v1/audit", None))[0] == 401
    assert (await _get(stack, "/v1/audit", "agw_wrong"))[0] == 401


async def test_the_cli_reads_the_log_from_the_database(stack: object) -> None:
    admin = await _token(stack, "admin")
    await _flow(stack, admin)
    env = {**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(stack.gateway.settings.data_dir)}  # type: ignore[attr-defined]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        "--action",
        "click.refused",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 0, out
    assert "not_approver" in out and "already_decided" in out and "decision." not in out
