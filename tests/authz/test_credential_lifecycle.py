"""Credential lifecycle: revoke forgets the credential, authorize says which one it used, a
changed notice holds the channel until an admin consents again, a lost credential is reported
broken, and ``keys rotate`` is safe beside a running gateway.

Driven through the admin HTTP API, the CLI and a real SMTP session with the sandbox mail catcher;
the email channel gets its credentials over the API (the settings hold none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app.runtime import Gateway
from bot.channels.memory import MemoryChannel
from bot.core.intake import Approver
from bot.core.ports import Clock
from bot.secrets import encode_key, key_file, key_id, new_key, read_key_file, write_key_file
from bot.settings.config import Settings, ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.mail.catcher import MailCatcher
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import authorize, call, token
from tests.gateway.helpers import eventually, run_cli, states, trace
from tests.support.clock import MovableClock

ANN = "ann@sandbox.example"
KEPT = "kept: the credential stored encrypted at an earlier authorization"


class BoundOnly(MemoryChannel):
    """A chat channel that reaches only accounts bound on it (the memory one reaches all)."""

    def default_address(self, approver: Approver) -> str | None:
        return None


@asynccontextmanager
async def running(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[tuple[Gateway, SandboxBackend]]:
    backend = SandboxBackend(secret=ensure_backend_secret(settings))
    await backend.start()
    gateway = Gateway(
        settings=settings, channels={"memory": BoundOnly("memory")}, backend_url=backend.url
    )
    if clock is not None:
        gateway.clock = clock
    await gateway.start()
    backend.gateway_url = gateway.url
    try:
        yield gateway, backend
    finally:
        await gateway.stop()
        await backend.stop()


def smtp(catcher: MailCatcher) -> dict[str, Any]:
    return {"host": catcher.host, "port": catcher.port, "security": "none"}


async def channel(gateway: Gateway, admin: str, name: str) -> dict[str, Any]:
    status, listed = await call(gateway, "GET", "/v1/channels", admin)
    assert status == 200, listed
    found: dict[str, Any] = next(c for c in listed if c["channel"] == name)
    return found


async def email_bound(gateway: Gateway, admin: str, account: str = "a1") -> None:
    body = {"channel": "email", "address": ANN, "verified": True}
    assert (await call(gateway, "PUT", f"/v1/bindings/{account}", admin, body))[0] == 200


def outbox_error(settings: Settings) -> str:
    with sqlite3.connect(settings.db_path) as conn:
        rows = conn.execute("SELECT COALESCE(last_error, '') FROM outbox WHERE state = 'pending'")
        return " ".join(r[0] for r in rows)


async def test_revoke_forgets_the_credential_and_authorizing_again_needs_one(
    tmp_path: Path,
) -> None:
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(fast_settings(tmp_path / "d")) as (gateway, backend):
            admin = await token(gateway, "admin")
            await email_bound(gateway, admin)
            test_card = {"channel": "email", "account_id": "a1"}
            status, answer = await call(gateway, "POST", "/v1/cards/test", admin, test_card)
            assert status == 409 and "email is not authorized" in answer["error"]["message"]
            status, answer = await authorize(gateway, admin, "email", credentials=smtp(catcher))
            assert status == 200 and answer["credentials"] == "stored encrypted", answer
            await backend.submit(sample_ticket("CL-1", [approver("a1", "Ann")]))
            await catcher.wait_for(ANN)

            assert (await call(gateway, "DELETE", "/v1/channels/email/authorization", admin))[
                0
            ] == 200
            assert "email" not in gateway.channels  # the channel built on it is gone too
            status, answer = await authorize(gateway, admin, "email")
            assert status == 422, answer  # the settings hold no SMTP relay, and none is stored
            assert answer["error"]["fields"]["credentials"].startswith("required: ")
            shown = await channel(gateway, admin, "email")
            assert (shown["state"], shown["running"], shown["credentials"]) == (
                "revoked",
                False,
                None,
            )

            await backend.submit(sample_ticket("CL-2", [approver("a1", "Ann")]))
            assert await states(backend, "CL-2") == ["unreachable"]
            assert catcher.count() == 1  # nothing more was mailed
    finally:
        catcher.stop()


async def test_the_answer_says_which_credential_was_used(tmp_path: Path) -> None:
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(fast_settings(tmp_path / "d")) as (gateway, _):
            admin = await token(gateway, "admin")
            _, first = await authorize(gateway, admin, "email", credentials=smtp(catcher))
            status, again = await authorize(gateway, admin, "email")
            assert status == 200 and (first["credentials"], again["credentials"]) == (
                "stored encrypted",
                KEPT,
            )
            assert (await channel(gateway, admin, "email"))["credentials"] == "stored"
            await call(gateway, "DELETE", "/v1/channels/memory/authorization", admin)
            _, chat = await authorize(gateway, admin, "memory")
            assert chat["credentials"] == "from settings"
    finally:
        catcher.stop()


async def test_a_channel_whose_credential_is_gone_after_a_restart_is_broken(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "d")
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(settings) as (gateway, _):
            admin = await token(gateway, "admin")
            assert (await authorize(gateway, admin, "email", credentials=smtp(catcher)))[0] == 200
            await email_bound(gateway, admin)
        with sqlite3.connect(settings.db_path) as conn:  # e.g. a restore from an older backup
            conn.execute("DELETE FROM sealed_secrets WHERE name = 'channel:email'")

        async with running(settings) as (gateway, backend):
            admin = await token(gateway, "admin")
            shown = await channel(gateway, admin, "email")
            assert shown["state"] == "broken" and "no credential" in shown["detail"], shown
            status, ready = await call(gateway, "GET", "/readyz", None)
            assert status == 503 and ready["checks"]["email"].startswith("broken: "), ready

            await backend.submit(sample_ticket("CL-B", [approver("a1", "Ann")]))
            delivery = (await trace(backend, "CL-B"))["deliveries"][0]
            assert delivery["state"] == "unreachable"
            assert "email is broken: no credential" in delivery["reason"]
    finally:
        catcher.stop()


@asynccontextmanager
async def queued_on_email(tmp_path: Path) -> AsyncIterator[tuple[Settings, MailCatcher]]:
    """A card queued on the email channel (its relay was down), then the gateway stopped; the
    relay is back (a new catcher on the same port)."""
    settings = fast_settings(tmp_path / "d")
    first = MailCatcher()
    first.start()
    async with running(settings) as (gateway, backend):
        admin = await token(gateway, "admin")
        assert (await authorize(gateway, admin, "email", credentials=smtp(first)))[0] == 200
        await email_bound(gateway, admin)
        first.stop()
        await backend.submit(sample_ticket("CL-W", [approver("a1", "Ann")]))
        await eventually(_probe(lambda: "smtp unavailable" in outbox_error(settings)))
    catcher = MailCatcher(port=first.port)
    catcher.start()
    try:
        yield settings, catcher
    finally:
        catcher.stop()


def changed_rates(settings: Settings, **extra: Any) -> Settings:
    rates = {"platform_per_message": {"email": 0.002}}
    return fast_settings(settings.data_dir, rates=rates, **extra)


async def test_a_changed_notice_holds_the_channel_until_an_admin_consents_again(
    tmp_path: Path,
) -> None:
    async with queued_on_email(tmp_path) as (settings, catcher):
        settings = changed_rates(settings)
        async with running(settings) as (gateway, backend):
            admin = await token(gateway, "admin")
            shown = await channel(gateway, admin, "email")
            assert (shown["state"], shown["notice_current"], shown["running"]) == (
                "consent_needed",
                False,
                False,
            )
            status, ready = await call(gateway, "GET", "/readyz", None)
            assert status == 503 and ready["checks"]["email"].startswith("consent_needed: ")
            await eventually(_probe(lambda: "needs consent again" in outbox_error(settings)))
            assert await states(backend, "CL-W") == ["queued"]  # it waits, it is not sent
            status, _ = await call(
                gateway, "POST", "/v1/cards/test", admin, {"channel": "email", "account_id": "a1"}
            )
            assert status == 409 and catcher.count() == 0

            status, answer = await authorize(gateway, admin, "email")
            assert status == 200 and answer["credentials"] == KEPT, answer
            await catcher.wait_for(ANN)

            async def sent() -> bool:
                return await states(backend, "CL-W") == ["sent"]

            await eventually(sent)
            assert (await channel(gateway, admin, "email"))["state"] == "authorized"


async def test_cards_waiting_for_consent_fall_back_after_the_deadline(tmp_path: Path) -> None:
    async with queued_on_email(tmp_path) as (settings, catcher):
        settings = changed_rates(settings, consent_wait_seconds=600)
        clock = MovableClock()
        async with running(settings, clock) as (gateway, backend):
            admin = await token(gateway, "admin")
            body = {"channel": "memory", "address": "ann-chat"}
            assert (await call(gateway, "PUT", "/v1/bindings/a1", admin, body))[0] == 200
            await eventually(_probe(lambda: "needs consent again" in outbox_error(settings)))
            assert await states(backend, "CL-W") == ["queued"]

            clock.advance(601)  # the backend's signed calls would now be stale: read with a token

            async def fell_back() -> list[dict[str, Any]] | None:
                _, shown = await call(gateway, "GET", "/v1/approvals/CL-W", admin)
                found: list[dict[str, Any]] = shown["deliveries"]
                return found if [d["state"] for d in found] == ["failed", "sent"] else None

            failed, sent = await eventually(fell_back)
            assert "email needs consent again" in failed["reason"] and sent["channel"] == "memory"
            assert catcher.count() == 0


async def test_keys_rotate_beside_a_running_gateway_never_seals_under_the_retired_key(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "d")
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(settings) as (gateway, _):
            admin = await token(gateway, "admin")
            rotated = await run_cli("keys", "rotate", data_dir=settings.data_dir)
            assert rotated.code == 0, rotated.output
            assert (await authorize(gateway, admin, "email", credentials=smtp(catcher)))[0] == 200
        current = key_id(read_key_file(key_file(settings))[0])
        with sqlite3.connect(settings.db_path) as conn:
            sealed = dict(conn.execute("SELECT name, key_id FROM sealed_secrets").fetchall())
        assert sealed["channel:email"] == current

        async with running(settings) as (gateway, _):  # starts: every row opens
            admin = await token(gateway, "admin")
            assert (await channel(gateway, admin, "email"))["state"] == "authorized"
    finally:
        catcher.stop()


async def test_previous_keys_are_honoured_with_the_key_file(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "d")
    catcher = MailCatcher()
    catcher.start()
    try:
        async with running(settings) as (gateway, _):
            admin = await token(gateway, "admin")
            assert (await authorize(gateway, admin, "email", credentials=smtp(catcher)))[0] == 200
        old = read_key_file(key_file(settings))[0]
        write_key_file(key_file(settings), [new_key()])

        with_previous = fast_settings(settings.data_dir, master_key_previous=encode_key(old))
        async with running(with_previous) as (gateway, _):
            admin = await token(gateway, "admin")
            assert (await channel(gateway, admin, "email"))["state"] == "authorized"
    finally:
        catcher.stop()


def _probe(check: Any) -> Any:
    async def run() -> Any:
        return check()

    return run
