"""Self-service binding end to end: console code → ``bind CODE`` in DingTalk chat → bound → reply."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually


@pytest.fixture
async def ding(tmp_path: Path) -> AsyncIterator[tuple[Embedded, DingTalkSandbox]]:
    embedded = await start(fast_settings(tmp_path, sandbox_platforms=["dingtalk"]))
    platform = embedded.platforms[0]
    assert isinstance(platform, DingTalkPlatform)
    sandbox = platform.sandboxes["dingtalk"]
    await sandbox.wait_connected()
    for user in ("staff7", "staff8"):
        sandbox.add_user(user, name=user)
    yield embedded, sandbox
    await embedded.stop()


async def _code(embedded: Embedded, account_id: str) -> str:
    assert embedded.backend is not None
    status, body = await embedded.backend.call(
        "POST", "/v1/me/binding-codes", {"account_id": account_id}
    )
    assert status == 201, body
    assert body["command"] == f"bind {body['code']}"
    return str(body["code"])


async def _say(sandbox: DingTalkSandbox, user: str, text: str) -> str:
    """Write to the bot as ``user``; return the bot's reply."""
    before = len(sandbox.messages(user))
    await sandbox.send_text(user, text)

    async def replied() -> str | None:
        replies = sandbox.messages(user)[before:]
        return replies[-1].text if replies else None

    return str(await eventually(replied))


async def _mine(embedded: Embedded, account_id: str) -> list[dict[str, str]]:
    assert embedded.backend is not None
    status, body = await embedded.backend.call("GET", f"/v1/me/binding?account_id={account_id}")
    assert status == 200, body
    return body["bindings"]  # type: ignore[no-any-return]


async def test_bind_code_binds_the_sender_and_routes_cards_there(
    ding: tuple[Embedded, DingTalkSandbox],
) -> None:
    embedded, sandbox = ding
    code = await _code(embedded, "acc-7")
    reply = await _say(sandbox, "staff7", f"bind {code.lower()}")
    assert "acc-7" in reply and "Linked" in reply
    mine = await _mine(embedded, "acc-7")
    assert [(b["channel"], b["address"], b["method"]) for b in mine] == [
        ("dingtalk", "staff7", "chat-code")
    ]
    assert embedded.backend is not None
    await embedded.backend.submit(sample_ticket("T-SELF", [approver("acc-7", "Seven")]))

    async def delivered() -> bool:
        return bool(sandbox.cards("staff7"))

    await eventually(delivered)


async def test_codes_are_single_use_expire_and_wrong_ones_say_nothing(
    ding: tuple[Embedded, DingTalkSandbox],
) -> None:
    embedded, sandbox = ding
    code = await _code(embedded, "acc-7")
    assert "Linked" in await _say(sandbox, "staff7", f"bind {code}")
    reused = await _say(sandbox, "staff8", f"bind {code}")
    wrong = await _say(sandbox, "staff8", "bind ZZZZ-ZZZZ")
    assert reused == wrong and "not valid" in wrong  # same answer: nothing about accounts leaks
    stale = await _code(embedded, "acc-8")
    with sqlite3.connect(embedded.gateway.settings.db_path) as conn:
        conn.execute("UPDATE binding_codes SET expires_at = '2000-01-01T00:00:00.000000Z'")
    assert "not valid" in await _say(sandbox, "staff8", f"bind {stale}")
    assert await _mine(embedded, "acc-8") == []
    assert "bind" in await _say(sandbox, "staff8", "hello?")  # anything else gets the how-to


async def test_a_code_that_moves_an_account_tells_the_old_identity_and_audits_both(
    ding: tuple[Embedded, DingTalkSandbox],
) -> None:
    embedded, sandbox = ding
    assert "Linked" in await _say(sandbox, "staff7", f"bind {await _code(embedded, 'acc-7')}")
    assert "Linked" in await _say(sandbox, "staff8", f"bind {await _code(embedded, 'acc-7')}")

    async def told() -> str | None:
        robot = [m for m in sandbox.messages("staff7") if m.kind == "robot"]
        return robot[-1].text if robot else None

    notice = await eventually(told)
    assert "no longer receives approval cards for account acc-7" in notice
    assert [(b["address"]) for b in await _mine(embedded, "acc-7")] == ["staff8"]
    with sqlite3.connect(embedded.gateway.settings.db_path) as conn:
        rows = conn.execute("SELECT detail FROM audit WHERE action = 'binding.moved'").fetchall()
    assert rows == [("dingtalk: staff7 -> staff8",)]


async def test_an_identity_bound_to_one_account_is_not_moved_to_another(
    ding: tuple[Embedded, DingTalkSandbox],
) -> None:
    embedded, sandbox = ding
    await _say(sandbox, "staff7", f"bind {await _code(embedded, 'acc-7')}")
    answer = await _say(sandbox, "staff7", f"bind {await _code(embedded, 'acc-8')}")
    assert "already linked" in answer
    assert await _mine(embedded, "acc-8") == []
    assert [b["address"] for b in await _mine(embedded, "acc-7")] == ["staff7"]


async def test_me_endpoints_take_only_the_backends_signature(
    ding: tuple[Embedded, DingTalkSandbox],
) -> None:
    embedded, sandbox = ding
    await _say(sandbox, "staff7", f"bind {await _code(embedded, 'acc-7')}")
    url = f"{embedded.gateway.url}/v1/me/binding?account_id=acc-7&channel=dingtalk"
    async with aiohttp.ClientSession() as s, s.delete(url) as r:
        assert r.status == 401  # an unsigned caller cannot act for anyone
    async with (
        aiohttp.ClientSession() as s,
        s.delete(url, headers={"authorization": "Bearer agw_x"}) as r,
    ):
        assert r.status == 401
    assert embedded.backend is not None
    status, _ = await embedded.backend.call(
        "DELETE", "/v1/me/binding?account_id=acc-7&channel=dingtalk"
    )
    assert status == 204
    assert await _mine(embedded, "acc-7") == []
    status, _ = await embedded.backend.call(
        "DELETE", "/v1/me/binding?account_id=acc-7&channel=dingtalk"
    )
    assert status == 404
