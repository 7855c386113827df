"""Email verification and preferences through the HTTP API, against the real aiosmtpd catcher.

An unverified email is never used; confirming it, opting out and opting back in change routing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.mail.platform import MailPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace
from tests.http.test_bindings_api import _call, _token

ADDRESS = "rita@corp.example"


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await start(fast_settings(tmp_path / "data", sandbox_platforms=["mail"]))
    try:
        yield stack
    finally:
        await stack.stop()


def _parts(stack: Embedded) -> tuple[SandboxBackend, MailPlatform]:
    platform = stack.platform_of("email")
    assert isinstance(platform, MailPlatform) and stack.backend is not None
    return stack.backend, platform


async def _delivery(backend: SandboxBackend, ticket_id: str) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        deliveries = (await trace(backend, ticket_id))["deliveries"]
        done = [d for d in deliveries if d["state"] in ("sent", "unreachable")]
        return done[0] if done else None

    found: dict[str, Any] = await eventually(settled)
    return found


async def _route(backend: SandboxBackend, ticket_id: str, account: str = "r-1") -> dict[str, Any]:
    ticket = sample_ticket(ticket_id, [approver(account, "Rita", "role", "ap-southeast-1")])
    assert (await backend.submit(ticket))[0] == 202
    return await _delivery(backend, ticket_id)


def _code(platform: MailPlatform, address: str, nth: int = -1) -> str:
    message = platform.catcher.messages(address)[nth]
    found = re.search(r"[A-Z2-9]{8}", str(message.get_body(("plain",)).get_content()))
    assert found is not None
    return found.group(0)


async def test_unverified_email_is_never_used_until_confirmed(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    status, body = await backend.call(
        "POST", "/v1/me/email", {"account_id": "r-1", "address": "Rita@Corp.Example"}
    )
    assert status == 202 and body["status"] == "pending", body
    confirmation = await platform.catcher.wait_for(ADDRESS)
    assert "Confirm" in confirmation["Subject"]
    assert confirmation["Auto-Submitted"] == "auto-generated"
    code = _code(platform, ADDRESS)

    unverified = await _route(backend, "T-V-1")
    assert unverified["state"] == "unreachable" and "no email identity" in unverified["reason"]
    assert len(platform.catcher.messages(ADDRESS)) == 1  # only the confirmation
    _, mine = await backend.call("GET", "/v1/me/binding?account_id=r-1")
    assert mine["bindings"] == []
    _, prefs = await backend.call("GET", "/v1/me/preferences?account_id=r-1")
    assert prefs["email_pending"] is True

    wrong = {"account_id": "r-1", "code": "AAAA2222"}
    status, refused = await backend.call("POST", "/v1/me/email/confirm", wrong)
    assert status == 422 and "not valid" in refused["error"]["message"]
    other = {"account_id": "r-2", "code": code}  # someone else's code binds nothing
    assert (await backend.call("POST", "/v1/me/email/confirm", other))[0] == 422
    good = {"account_id": "r-1", "code": code.lower()}
    status, confirmed = await backend.call("POST", "/v1/me/email/confirm", good)
    assert status == 200 and confirmed == {
        "account_id": "r-1",
        "address": "Rita@corp.example",  # the local part as given, the domain lowercased
        "status": "verified",
    }
    assert (await backend.call("POST", "/v1/me/email/confirm", good))[0] == 422  # single-use
    _, mine = await backend.call("GET", "/v1/me/binding?account_id=r-1")
    assert [(b["channel"], b["address"], b["method"]) for b in mine["bindings"]] == [
        ("email", "Rita@corp.example", "email-code")
    ]

    verified = await _route(backend, "T-V-2")
    assert (verified["channel"], verified["state"]) == ("email", "sent")
    await platform.catcher.wait_for(ADDRESS, count=2)


async def test_codes_are_stored_hashed_and_stop_after_wrong_guesses(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    await backend.call("POST", "/v1/me/email", {"account_id": "r-3", "address": ADDRESS})
    await platform.catcher.wait_for(ADDRESS)
    code = _code(platform, ADDRESS)
    async with mail.gateway.store.read() as tx:
        rows = await tx.fetch_all("SELECT * FROM email_verifications")
    assert len(rows) == 1 and code not in str(tuple(rows[0]))
    for _ in range(5):
        wrong = {"account_id": "r-3", "code": "BBBB3333"}
        await backend.call("POST", "/v1/me/email/confirm", wrong)
    right = {"account_id": "r-3", "code": code}
    assert (await backend.call("POST", "/v1/me/email/confirm", right))[0] == 422


async def test_a_new_address_replaces_the_pending_one(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    await backend.call("POST", "/v1/me/email", {"account_id": "r-4", "address": "old@x.example"})
    await platform.catcher.wait_for("old@x.example")
    old_code = _code(platform, "old@x.example")
    await backend.call("POST", "/v1/me/email", {"account_id": "r-4", "address": "new@x.example"})
    await platform.catcher.wait_for("new@x.example")
    old = {"account_id": "r-4", "code": old_code}
    assert (await backend.call("POST", "/v1/me/email/confirm", old))[0] == 422
    new = {"account_id": "r-4", "code": _code(platform, "new@x.example")}
    status, body = await backend.call("POST", "/v1/me/email/confirm", new)
    assert status == 200 and body["address"] == "new@x.example"


async def test_opt_out_and_opt_in_change_routing(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    seat = await mail.seat("email", "r-5", "Rae")  # a sandbox mailbox: bound as verified

    status, prefs = await backend.call(
        "PUT", "/v1/me/preferences", {"account_id": "r-5", "email_enabled": False}
    )
    assert status == 200 and prefs["email_enabled"] is False, prefs
    assert prefs["updated_by"] == "r-5"
    out = await _route(backend, "T-OPT-1", "r-5")
    assert out["state"] == "unreachable" and out["reason"].startswith("unsubscribed")
    assert platform.catcher.messages(seat.address) == []

    await backend.call("PUT", "/v1/me/preferences", {"account_id": "r-5", "email_enabled": True})
    back = await _route(backend, "T-OPT-2", "r-5")
    assert (back["channel"], back["state"]) == ("email", "sent")
    await platform.catcher.wait_for(seat.address)


async def test_preferences_are_checked_and_only_signed_calls_pass(mail: Embedded) -> None:
    backend, _ = _parts(mail)
    _, prefs = await backend.call("GET", "/v1/me/preferences?account_id=r-6")
    assert (prefs["channel_order"], prefs["email_enabled"]) == (None, True)
    bad = {"account_id": "r-6", "channel_order": ["lark", "telegram"]}
    status, body = await backend.call("PUT", "/v1/me/preferences", bad)
    assert status == 422 and "channel_order" in body["error"]["fields"]
    twice = {"account_id": "r-6", "channel_order": ["lark", "lark"]}
    assert (await backend.call("PUT", "/v1/me/preferences", twice))[0] == 422
    good = {"account_id": "r-6", "channel_order": ["lark", "dingtalk"]}
    status, body = await backend.call("PUT", "/v1/me/preferences", good)
    assert status == 200 and body["channel_order"] == ["lark", "dingtalk"]
    reset = {"account_id": "r-6", "channel_order": []}
    assert (await backend.call("PUT", "/v1/me/preferences", reset))[1]["channel_order"] is None
    # Unsigned: the admin path needs a token, the /v1/me path the backend's signature.
    assert (await _call(mail, "GET", "/v1/me/preferences?account_id=r-6", None))[0] == 401
    assert (await _call(mail, "GET", "/v1/accounts/r-6/preferences", None))[0] == 401


async def test_admin_preferences_and_admin_set_email(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    admin, admin_id = await _token(mail, "admin")
    support, _ = await _token(mail, "support")
    body = {"email_enabled": False, "channel_order": ["email"]}
    assert (await _call(mail, "PUT", "/v1/accounts/r-7/preferences", support, body))[0] == 403
    status, prefs = await _call(mail, "PUT", "/v1/accounts/r-7/preferences", admin, body)
    assert status == 200 and prefs["updated_by"] == admin_id
    status, shown = await _call(mail, "GET", "/v1/accounts/r-7/preferences", admin)
    assert (shown["email_enabled"], shown["channel_order"]) == (False, ["email"])

    # Set by an admin without "verified": the address is mailed a code and stays pending.
    put = {"channel": "email", "address": "r7@corp.example"}
    status, pending = await _call(mail, "PUT", "/v1/bindings/r-7", admin, put)
    assert status == 202 and pending["status"] == "pending"
    await platform.catcher.wait_for("r7@corp.example")
    assert (await _call(mail, "GET", "/v1/bindings/r-7", admin))[1]["bindings"] == []
    code = _code(platform, "r7@corp.example")
    status, _ = await backend.call(
        "POST", "/v1/me/email/confirm", {"account_id": "r-7", "code": code}
    )
    assert status == 200
    shown_b = (await _call(mail, "GET", "/v1/bindings/r-7", admin))[1]["bindings"]
    assert [(b["address"], b["bound_by"]) for b in shown_b] == [("r7@corp.example", admin_id)]


async def test_without_an_email_channel_an_address_cannot_be_set(stack: object) -> None:
    embedded = stack
    assert isinstance(embedded, Embedded) and embedded.backend is not None
    status, body = await embedded.backend.call(
        "POST", "/v1/me/email", {"account_id": "r-8", "address": ADDRESS}
    )
    assert status == 409 and "email channel" in body["error"]["message"]


async def test_a_refused_address_change_leaves_the_pending_one_as_it_was(mail: Embedded) -> None:
    backend, _ = _parts(mail)
    status, _ = await backend.call(
        "POST", "/v1/me/email", {"account_id": "r-9", "address": ADDRESS}
    )
    assert status == 202
    admin, _ = await _token(mail, "admin")
    assert (await _call(mail, "DELETE", "/v1/channels/email/authorization", admin))[0] == 200
    other = {"account_id": "r-9", "address": "someone.else@corp.example"}
    status, body = await backend.call("POST", "/v1/me/email", other)
    assert status == 409, body
    async with mail.gateway.store.read() as tx:
        rows = await tx.fetch_all("SELECT address FROM email_verifications")
    assert [r["address"] for r in rows] == [ADDRESS]


def _text(platform: MailPlatform, address: str, nth: int = -1) -> str:
    body = platform.catcher.messages(address)[nth].get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _shown(at: str, where: str) -> str:
    """How a card shows the ISO time ``at`` in the zone ``where`` (name and offset)."""
    local = datetime.fromisoformat(at).astimezone(ZoneInfo(where))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


async def test_time_zone_preference_is_checked_and_shown_on_email(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    seat = await mail.seat("email", "r-9", "Ray")
    _, prefs = await backend.call("GET", "/v1/me/preferences?account_id=r-9")
    assert prefs["time_zone"] is None
    bad = {"account_id": "r-9", "time_zone": "Mars/Olympus_Mons"}
    status, body = await backend.call("PUT", "/v1/me/preferences", bad)
    assert status == 422 and "Mars/Olympus_Mons" in body["error"]["fields"]["time_zone"], body
    ny = {"account_id": "r-9", "time_zone": "America/New_York"}
    status, prefs = await backend.call("PUT", "/v1/me/preferences", ny)
    assert status == 200 and prefs["time_zone"] == "America/New_York", prefs
    assert (await backend.call("GET", "/v1/me/preferences?account_id=r-9"))[1] == prefs

    # An en-US approver in New York reads the expiry in New York time.
    ticket = sample_ticket("T-TZ-1", [approver("r-9", "Ray", "role", "us-east-1")])
    assert (await backend.submit(ticket))[0] == 202
    await platform.catcher.wait_for(seat.address)
    assert f"Expires: {_shown(ticket['expires_at'], 'America/New_York')}" in _text(
        platform, seat.address
    )

    reset = {"account_id": "r-9", "time_zone": ""}
    assert (await backend.call("PUT", "/v1/me/preferences", reset))[1]["time_zone"] is None


async def test_a_zh_cn_card_shows_shanghai_time_without_a_preference(mail: Embedded) -> None:
    backend, platform = _parts(mail)
    seat = await mail.seat("email", "r-10", "Lei")
    ticket = sample_ticket(
        "T-TZ-2", [approver("r-10", "Lei", "role", "cn-north-1")], locale="zh-CN"
    )
    assert (await backend.submit(ticket))[0] == 202
    await platform.catcher.wait_for(seat.address)
    shown = _shown(ticket["expires_at"], "Asia/Shanghai")
    assert shown.endswith("CST (UTC+08:00)") and shown in _text(platform, seat.address)


async def test_admin_sets_a_time_zone_through_the_account_route(mail: Embedded) -> None:
    admin, _ = await _token(mail, "admin")
    bad = {"time_zone": "Not/AZone"}
    status, body = await _call(mail, "PUT", "/v1/accounts/r-11/preferences", admin, bad)
    assert status == 422 and "time_zone" in body["error"]["fields"]
    good = {"time_zone": "Europe/Berlin"}
    status, body = await _call(mail, "PUT", "/v1/accounts/r-11/preferences", admin, good)
    assert status == 200 and body["time_zone"] == "Europe/Berlin"
    shown = (await _call(mail, "GET", "/v1/accounts/r-11/preferences", admin))[1]
    assert shown["time_zone"] == "Europe/Berlin"
