"""Lark HTTP callback mode: encrypted, signed callbacks, and everything that must be refused.

The ``lark`` channel runs in ``mode = "http"`` against the sandbox app (cards still go out
through the SDK's OpenAPI calls there); clicks are POSTed to ``/callbacks/lark`` the way the
platform builds them: AES-256-CBC body, ``X-Lark-Signature`` over timestamp + nonce + key + body.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.lark.frames import card_action_event, encrypt, sign
from sandbox.lark.platform import LarkPlatform, button_values
from sandbox.lark.sandbox import LarkSandbox
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states, trace

ENCRYPT_KEY = "lark-encrypt-key"
V_TOKEN = "lark-verification-token"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["lark"],
        lark={"mode": "http", "encrypt_key": ENCRYPT_KEY, "verification_token": V_TOKEN},
    )
    embedded = await start(settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


def platform(embedded: Embedded) -> LarkPlatform:
    found = embedded.platform_of("lark")
    assert isinstance(found, LarkPlatform)
    return found


def sandbox_of(embedded: Embedded) -> LarkSandbox:
    return platform(embedded).app()


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


def url(embedded: Embedded) -> str:
    return embedded.gateway.url + "/callbacks/lark"


async def submit(embedded: Embedded, ticket_id: str, seats: list[Seat]) -> dict[str, str]:
    approvers = [approver(s.account_id, s.display_name) for s in seats]
    status, receipt = await backend_of(embedded).submit(sample_ticket(ticket_id, approvers))
    assert status == 202, receipt

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend_of(embedded), ticket_id))

    await eventually(sent)
    return {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}


def click_event(embedded: Embedded, seat: Seat, delivery_id: str, comment: str = "") -> bytes:
    """The plaintext ``card.action.trigger`` the platform would send for an Approve click."""
    sandbox = sandbox_of(embedded)
    message = platform(embedded).message_of(seat, delivery_id)
    value = next(v for v in button_values(message.content) if v["action"] == "approve")
    event = card_action_event(
        app_id=sandbox.app_id,
        user=sandbox.store.user(seat.address),
        message_id=message.message_id,
        token=sandbox.store.issue_card_token(message.message_id),
        value=value,
        form_value={"comment": comment},
        verification_token=V_TOKEN,
        now=time.time(),
    )
    return json.dumps(event).encode()


def seal(
    plain: bytes, *, key: str = ENCRYPT_KEY, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"encrypt": encrypt(plain, key)}).encode()
    timestamp, nonce = str(int(at if at is not None else time.time())), "n0nce"
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign(timestamp, nonce, key, body),
    }
    return body, headers


async def post(embedded: Embedded, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url(embedded), data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def nothing_forwarded(embedded: Embedded, ticket_id: str) -> None:
    await asyncio.sleep(0.2)
    assert (await trace(backend_of(embedded), ticket_id))["status"] == "pending"
    assert backend_of(embedded).decisions == []


# -- accepted -------------------------------------------------------------------------------
async def test_url_verification_challenge(gw: Embedded) -> None:
    plain = json.dumps({"challenge": "c-123", "token": V_TOKEN, "type": "url_verification"})
    body = json.dumps({"encrypt": encrypt(plain.encode(), ENCRYPT_KEY)}).encode()
    status, answer = await post(gw, body, {"Content-Type": "application/json"})
    assert (status, answer) == (200, {"challenge": "c-123"})
    wrong = json.dumps({"challenge": "c-1", "token": "nope", "type": "url_verification"})
    body = json.dumps({"encrypt": encrypt(wrong.encode(), ENCRYPT_KEY)}).encode()
    status, _ = await post(gw, body, {"Content-Type": "application/json"})
    assert status == 401


async def test_a_valid_encrypted_signed_click_is_taken(gw: Embedded) -> None:
    ann = await gw.seat("lark", "a1", "Ann")
    bob = await gw.seat("lark", "a2", "Bob")
    cards = await submit(gw, "LH-OK", [ann, bob])
    result = await sandbox_of(gw).click_via_http(
        url(gw),
        ann.address,
        platform(gw).message_of(ann, cards["a1"]).message_id,
        {"action": "approve", "ref": cards["a1"]},
        form_value={"comment": "via http"},
        encrypt_key=ENCRYPT_KEY,
        verification_token=V_TOKEN,
    )
    assert result.code == 200
    assert result.toast == {"type": "success", "content": "Thanks — your decision was recorded."}
    assert result.card is not None and result.card["type"] == "raw"  # the clicker's redraw
    assert platform(gw).card_state(ann, cards["a1"]) == "approved"
    decision = await backend_of(gw).wait_for_decision("LH-OK")
    assert (decision.body["decision"], decision.body["comment"]) == ("approved", "via http")

    async def bob_updated() -> bool:
        return platform(gw).card_state(bob, cards["a2"]) == "approved"

    await eventually(bob_updated)
    status, _ = await post(gw, b"{}", {})  # an empty envelope is not a click
    assert status == 401
    assert len(backend_of(gw).decisions) == 1


# -- refused --------------------------------------------------------------------------------
async def test_tampered_forged_stale_and_replayed_callbacks_are_refused(gw: Embedded) -> None:
    ann = await gw.seat("lark", "a1", "Ann")
    cards = await submit(gw, "LH-NO", [ann])

    # Tampered: one byte of the encrypted body changed after signing.
    body, headers = seal(click_event(gw, ann, cards["a1"]))
    tampered = body.replace(b'"encrypt": "', b'"encrypt": "A', 1)
    assert (await post(gw, tampered, headers))[0] == 401

    # Wrong signature: sealed with another key (cannot be decrypted or verified).
    body, headers = seal(click_event(gw, ann, cards["a1"]), key="someone-elses-key")
    assert (await post(gw, body, headers))[0] == 401
    body, headers = seal(click_event(gw, ann, cards["a1"]))
    headers["X-Lark-Signature"] = "0" * 64
    assert (await post(gw, body, headers))[0] == 401

    # Stale: validly signed, but an hour old (outside the replay window).
    body, headers = seal(click_event(gw, ann, cards["a1"]), at=time.time() - 3600)
    status, answer = await post(gw, body, headers)
    assert status == 401 and "window" in answer["error"]
    await nothing_forwarded(gw, "LH-NO")

    # Replayed: the same valid callback twice; only the first is taken.
    body, headers = seal(click_event(gw, ann, cards["a1"], comment="once"))
    first = await post(gw, body, headers)
    assert first[0] == 200 and first[1]["toast"]["type"] == "success"
    replay = await post(gw, body, headers)
    assert replay[0] == 409
    await backend_of(gw).wait_for_decision("LH-NO")
    await asyncio.sleep(0.3)
    assert len(backend_of(gw).decisions) == 1
    assert len(backend_of(gw).attempts) == 1
