"""DingTalk HTTP callback mode: event-subscription crypto, robot signatures, replays.

The ``dingtalk`` channel runs in ``mode = "http"`` against its sandbox app (cards are still
created there); callbacks are built the way the platform builds them and POSTed to the gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.dingtalk.crypto import EventCrypto, robot_sign, sign_event
from bot.errors import VerificationError
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import APPS, DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states, trace

TOKEN = "callback-token"
AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
APP = APPS["dingtalk"]
CRYPTO = EventCrypto(TOKEN, AES_KEY, APP.client_id)


# -- the crypto on its own -------------------------------------------------------------------
def test_official_test_vector() -> None:
    # From open-dingtalk/DingTalk-Callback-Crypto, DingCallbackCrypto3.py.
    encrypt = (
        "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDC"
        "YxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3"
    )
    signature = "03044561471240d4a14bb09372dfcfd4fd0e40cb"
    assert sign_event("mryue", "1608001896814", "WL4PK6yA", encrypt) == signature
    crypto = EventCrypto("mryue", AES_KEY, "ding6ccabc44d2c8d38b")
    plain = crypto.decrypt(signature, "1608001896814", "WL4PK6yA", encrypt)
    assert plain == '{"EventType":"check_url"}'
    with pytest.raises(VerificationError, match="not meant for this app"):
        EventCrypto("mryue", AES_KEY, "ding_other").decrypt(
            signature, "1608001896814", "WL4PK6yA", encrypt
        )


@pytest.mark.parametrize("text", ["", "success", "审批通过 ✅", "x" * 31, "y" * 32, "z" * 100])
def test_round_trip_is_byte_exact(text: str) -> None:
    reply = CRYPTO.reply(text, "1700000000000")
    args = (reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert CRYPTO.decrypt(*args) == text
    with pytest.raises(VerificationError):
        CRYPTO.decrypt("0" * 40, *args[1:])


# -- the gateway in HTTP mode ----------------------------------------------------------------
@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["dingtalk"],
        dingtalk={"mode": "http", "callback_token": TOKEN, "callback_aes_key": AES_KEY},
    )
    embedded = await start(settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


def platform(embedded: Embedded) -> DingTalkPlatform:
    found = embedded.platform_of("dingtalk")
    assert isinstance(found, DingTalkPlatform)
    return found


async def submit(embedded: Embedded, ticket_id: str, seat: Seat) -> str:
    backend = backend_of(embedded)
    ticket = sample_ticket(ticket_id, [approver(seat.account_id, seat.display_name)])
    status, receipt = await backend.submit(ticket)
    assert status == 202, receipt

    async def sent() -> bool:
        return await states(backend, ticket_id) == ["sent"]

    await eventually(sent)
    return str(receipt["deliveries"][0]["delivery_id"])


def now_ms() -> str:
    return str(int(time.time() * 1000))


def click_payload(user_id: str, delivery_id: str, corp_id: str = APP.corp_id) -> dict[str, Any]:
    params = {"action": "approve", "ref": delivery_id, "comment": "via http"}
    return {
        "type": "actionCallback",
        "corpId": corp_id,
        "userId": user_id,
        "userIdType": 1,
        "outTrackId": f"approval_{delivery_id}",
        "content": json.dumps({"cardPrivateData": {"actionIds": ["b"], "params": params}}),
    }


def envelope(
    payload: dict[str, Any], *, crypto: EventCrypto = CRYPTO, ts: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    ts = ts or now_ms()
    encrypt = crypto.encrypt(json.dumps(payload))
    query = {"signature": crypto.signature(ts, "n0nce", encrypt), "timestamp": ts, "nonce": "n0nce"}
    return query, {"encrypt": encrypt}


async def post(
    embedded: Embedded,
    body: dict[str, Any],
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    url = f"{embedded.gateway.url}/callbacks/dingtalk"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, params=params, headers=headers, json=body) as response,
    ):
        return response.status, await response.json()


async def deliver(
    embedded: Embedded, pair: tuple[dict[str, str], dict[str, str]]
) -> tuple[int, dict[str, Any]]:
    query, body = pair
    return await post(embedded, body, params=query)


def decrypt_reply(reply: dict[str, str]) -> str:
    return CRYPTO.decrypt(
        reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )


async def test_encrypted_callbacks_are_taken_once_and_answered_with_success(gw: Embedded) -> None:
    status, reply = await deliver(gw, envelope({"EventType": "check_url"}))
    assert status == 200 and decrypt_reply(reply) == "success"

    ann = await gw.seat("dingtalk", "a1", "Ann")
    delivery = await submit(gw, "HTTP-OK", ann)
    query, body = envelope(click_payload(ann.address, delivery))
    status, reply = await post(gw, body, params=query)
    assert status == 200 and decrypt_reply(reply) == "success"
    decision = await backend_of(gw).wait_for_decision("HTTP-OK")
    assert (decision.body["decision"], decision.body["comment"]) == ("approved", "via http")

    # No ACK to carry the redraw in HTTP mode: the clicker's card is updated through the API.
    card = platform(gw).sandboxes["dingtalk"].card(ann.address, f"approval_{delivery}")
    assert card.callback_type == "HTTP" and card.params["state"] == "approved"
    assert card.private_params["notice"] == "Thanks — your decision was recorded."

    replay_status, _ = await post(gw, body, params=query)
    assert replay_status == 409
    assert len(backend_of(gw).decisions) == 1


async def test_forged_stale_and_foreign_callbacks_are_refused(gw: Embedded) -> None:
    ann = await gw.seat("dingtalk", "a1", "Ann")
    delivery = await submit(gw, "HTTP-NO", ann)
    payload = click_payload(ann.address, delivery)

    query, body = envelope(payload)
    bad_sig = await post(gw, body, params={**query, "signature": "0" * 40})
    wrong_owner = await deliver(gw, envelope(payload, crypto=EventCrypto(TOKEN, AES_KEY, "x")))
    stale = await deliver(gw, envelope(payload, ts=str(int(now_ms()) - 7200_000)))
    unsigned = await post(gw, body)
    assert [r[0] for r in (bad_sig, wrong_owner, stale, unsigned)] == [401, 401, 401, 401]
    assert "outside the replay window" in stale[1]["error"]

    # Authentic, but clicked from another organisation: answered, not decided.
    status, reply = await deliver(gw, envelope(click_payload(ann.address, delivery, "dingX")))
    assert status == 200 and decrypt_reply(reply) == "success"
    card = platform(gw).sandboxes["dingtalk"].card(ann.address, f"approval_{delivery}")
    assert card.private_params["notice"] == "You are not an approver of this ticket."
    assert card.params["state"] == "pending"

    assert (await trace(backend_of(gw), "HTTP-NO"))["status"] == "pending"
    assert backend_of(gw).attempts == []


async def test_robot_messages_need_a_fresh_signature_and_are_taken_once(gw: Embedded) -> None:
    ts = now_ms()
    message = {
        "msgId": "msg-1",
        "conversationType": "1",
        "msgtype": "text",
        "text": {"content": " bind 123456"},
        "senderStaffId": "staffa1",
        "senderCorpId": APP.corp_id,
    }
    good = {"timestamp": ts, "sign": robot_sign(APP.client_secret, ts)}
    assert (await post(gw, message, headers=good))[0] == 200
    assert (await post(gw, message, headers=good))[0] == 409  # replayed
    # The robot's sign covers only the timestamp: the captured pair must not carry another body.
    fresh = {**message, "msgId": "msg-2"}
    assert (await post(gw, fresh, headers=good))[0] == 409
    forged = {"timestamp": ts, "sign": robot_sign("not-the-secret", ts)}
    old = str(int(ts) - 7200_000)
    stale = {"timestamp": old, "sign": robot_sign(APP.client_secret, old)}
    assert (await post(gw, fresh, headers=forged))[0] == 401
    assert (await post(gw, fresh, headers=stale))[0] == 401
    later = str(int(ts) + 1)
    signed = {"timestamp": later, "sign": robot_sign(APP.client_secret, later)}
    assert (await post(gw, fresh, headers=signed))[0] == 200
