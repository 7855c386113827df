"""The DingTalk channels over the real ``dingtalk_stream`` client, against two sandbox apps.

Driven only through public surfaces: the sandbox backend submits signed requests and receives
decisions, sandbox users click cards over the stream protocol, the sandbox platform shows what
each user's card holds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import DingTalkPlatform, click_params
from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.embedded import Embedded, start
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states, store_held, trace

FAST_DINGTALK = {"throttle_retry_seconds": 0.1, "ack_budget_seconds": 2.0}


@pytest.fixture
async def dt(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["dingtalk"],
        dingtalk=FAST_DINGTALK,
        dingtalk_enterprise=FAST_DINGTALK,
    )
    embedded = await start(settings)
    try:
        for sandbox in platform(embedded).sandboxes.values():
            await sandbox.wait_connected()
        yield embedded
    finally:
        await embedded.stop()


def platform(embedded: Embedded) -> DingTalkPlatform:
    found = embedded.platform_of("dingtalk")
    assert isinstance(found, DingTalkPlatform)
    return found


def sandbox_of(embedded: Embedded, channel: str = "dingtalk") -> DingTalkSandbox:
    return platform(embedded).sandboxes[channel]


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


async def submit(embedded: Embedded, ticket_id: str, seats: list[Seat]) -> dict[str, str]:
    """Submit through the signed API; wait until every card is out; account -> delivery id."""
    backend = backend_of(embedded)
    approvers = [approver(s.account_id, s.display_name) for s in seats]
    status, receipt = await backend.submit(sample_ticket(ticket_id, approvers))
    assert status == 202, receipt

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend, ticket_id))

    await eventually(sent)
    return {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}


def card_of(embedded: Embedded, seat: Seat, delivery_id: str) -> Any:
    return sandbox_of(embedded, seat.channel).card(seat.address, f"approval_{delivery_id}")


async def get(embedded: Embedded, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(embedded.gateway.url + path) as response,
    ):
        return response.status, await response.text()


async def all_updated(embedded: Embedded, ticket_id: str) -> bool:
    return all(s == "updated" for s in await states(backend_of(embedded), ticket_id))


# -- the happy path, on both apps at once ------------------------------------------------------
async def test_click_decides_once_and_every_card_on_both_apps_shows_it(dt: Embedded) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    bob = await dt.seat("dingtalk_enterprise", "a2", "Bob")
    cards = await submit(dt, "DT-OK", [ann, bob])
    assert card_of(dt, ann, cards["a1"]).params["state"] == "pending"

    outcome = await platform(dt).click(ann, cards["a1"], ClickAction.APPROVE, "ship it")

    # The clicker's card is redrawn by the ACK itself, merged by key, with a private notice.
    assert outcome.card_state == "approved"
    assert outcome.toast == "Thanks — your decision was recorded."
    decision = await backend_of(dt).wait_for_decision("DT-OK")
    assert decision.body["decision"] == "approved" and decision.body["channel"] == "dingtalk"
    assert decision.body["approver"] == {"account_id": "a1", "display_name": "Ann"}
    assert decision.body["comment"] == "ship it"
    await eventually(lambda: all_updated(dt, "DT-OK"))
    mine, theirs = card_of(dt, ann, cards["a1"]), card_of(dt, bob, cards["a2"])
    assert [v.source for v in mine.versions] == ["create", "callback"]
    assert [v.source for v in theirs.versions] == ["create", "update"]
    assert theirs.params["state"] == "approved" and theirs.params["showActions"] == "false"
    assert "Ann" in theirs.params["markdown"]
    # Separate apps: each card lives only on the app of its channel.
    assert [c.out_track_id for c in sandbox_of(dt, "dingtalk_enterprise").cards(ann.address)] == []
    assert [c.out_track_id for c in sandbox_of(dt, "dingtalk").cards(bob.address)] == []
    await asyncio.sleep(0.2)
    assert len(backend_of(dt).decisions) == 1
    status, body = await get(dt, "/readyz")
    assert status == 200 and '"dingtalk_enterprise": "connected"' in body


async def test_reject_without_a_reason_is_asked_for_one(dt: Embedded) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    cards = await submit(dt, "DT-REJ", [ann])
    bare = await platform(dt).click(ann, cards["a1"], ClickAction.REJECT)
    assert bare.toast == "Please enter a reason to reject." and bare.card_state == "pending"
    assert (await trace(backend_of(dt), "DT-REJ"))["status"] == "pending"
    reasoned = await platform(dt).click(ann, cards["a1"], ClickAction.REJECT, "peak hours")
    assert reasoned.card_state == "rejected"
    decision = await backend_of(dt).wait_for_decision("DT-REJ")
    assert (decision.body["decision"], decision.body["comment"]) == ("rejected", "peak hours")


# -- clicks that must change nothing -----------------------------------------------------------
async def test_non_approver_and_late_clicks_change_nothing(dt: Embedded) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    bob = await dt.seat("dingtalk", "a2", "Bob")
    mallory = await dt.seat("dingtalk", "m1", "Mallory")
    cards = await submit(dt, "DT-A", [ann, bob])
    other = await submit(dt, "DT-B", [mallory])

    # Mallory holds a card of another ticket and points its button at Ann's delivery.
    sandbox = sandbox_of(dt)
    track = f"approval_{other['m1']}"
    forged = click_params(card_of(dt, mallory, other["m1"]).params, ClickAction.APPROVE)
    forged["ref"] = cards["a1"]
    refused = await sandbox.click(mallory.address, track, forged)
    assert refused.response["userPrivateData"]["cardParamMap"]["notice"] == (
        "You are not an approver of this ticket."
    )
    assert "cardData" not in refused.response  # nobody's card is redrawn
    assert card_of(dt, mallory, other["m1"]).params["state"] == "pending"
    assert (await trace(backend_of(dt), "DT-A"))["status"] == "pending"

    await platform(dt).click(ann, cards["a1"], ClickAction.APPROVE)
    late = await platform(dt).click(bob, cards["a2"], ClickAction.REJECT, "too late")
    assert late.toast.startswith("Already decided by Ann") and late.card_state == "approved"
    await backend_of(dt).wait_for_decision("DT-A")
    await asyncio.sleep(0.3)
    assert [d.ticket_id for d in backend_of(dt).decisions] == ["DT-A"]
    assert backend_of(dt).decisions[0].body["decision"] == "approved"


# -- answers within the deadline, whatever the store or the socket does -----------------------
def db_of(embedded: Embedded) -> Path:
    return embedded.gateway.settings.db_path


async def card_shows(embedded: Embedded, seat: Seat, delivery_id: str, state: str) -> bool:
    return bool(card_of(embedded, seat, delivery_id).params.get("state") == state)


async def test_a_click_decided_late_is_answered_in_time_and_the_card_follows(
    dt: Embedded,
) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    bob = await dt.seat("dingtalk", "a2", "Bob")
    cards = await submit(dt, "DT-LATE", [ann, bob])
    async with store_held(db_of(dt)):  # the decision cannot commit within the 3 s
        outcome = await platform(dt).click(ann, cards["a1"], ClickAction.APPROVE)
    # ACKed in time (the sandbox counts a later answer as failed) with "processing".
    assert not outcome.failed and outcome.toast.startswith("Your choice is being recorded")
    assert outcome.card_state == "pending"
    decision = await backend_of(dt).wait_for_decision("DT-LATE")
    assert decision.body["decision"] == "approved"
    # DingTalk never pushes the callback again: the card is redrawn through the card API.
    await eventually(lambda: card_shows(dt, ann, cards["a1"], "approved"))
    await eventually(lambda: card_shows(dt, bob, cards["a2"], "approved"))
    await eventually(lambda: all_updated(dt, "DT-LATE"))
    clicked = card_of(dt, ann, cards["a1"])
    assert [v.source for v in clicked.versions] == ["create", "callback", "update"]
    assert clicked.private_params.get("notice", "") == ""  # "processing" went with the outcome
    assert len(backend_of(dt).decisions) == 1


async def test_simultaneous_clicks_on_a_busy_store_are_all_answered_in_time(
    dt: Embedded,
) -> None:
    seats = [await dt.seat("dingtalk", f"s{i}", f"Approver {i}") for i in range(4)]
    cards = await submit(dt, "DT-SIM", seats)
    click = platform(dt).click
    async with store_held(db_of(dt)):
        outcomes = await asyncio.gather(
            *(click(s, cards[s.account_id], ClickAction.APPROVE) for s in seats)
        )
    assert not any(o.failed for o in outcomes)  # every ACK within the platform's 3 s
    decision = await backend_of(dt).wait_for_decision("DT-SIM")
    for seat in seats:
        await eventually(lambda seat=seat: card_shows(dt, seat, cards[seat.account_id], "approved"))
    await asyncio.sleep(0.3)
    assert len(backend_of(dt).decisions) == 1 and decision.body["decision"] == "approved"


async def _click_mid_fault(embedded: Embedded, fault: str) -> tuple[Any, Seat, str]:
    ann = await embedded.seat("dingtalk", "a1", "Ann")
    cards = await submit(embedded, f"DT-{fault}", [ann])
    sandbox, channel = sandbox_of(embedded), platform(embedded).channel("dingtalk")
    async with store_held(db_of(embedded)):
        params = click_params(card_of(embedded, ann, cards["a1"]).params, ClickAction.APPROVE)
        click = asyncio.create_task(sandbox.click(ann.address, f"approval_{cards['a1']}", params))
        await eventually(lambda: _true(channel.frames_in_flight == 1))  # the gateway has it
        await (sandbox.disconnect() if fault == "disconnect" else sandbox.kill())
    return await asyncio.wait_for(click, 10), ann, cards["a1"]


async def _true(value: bool) -> bool:
    return value


async def test_system_disconnect_mid_click_still_answers_on_the_old_socket(dt: Embedded) -> None:
    result, _, _ = await _click_mid_fault(dt, "disconnect")
    # Frames in flight answer within the platform's grace before the socket closes.
    assert result.error is None and result.deliveries == 1
    assert result.card.params["state"] == "approved"
    assert [v.source for v in result.card.versions] == ["create", "callback"]
    await backend_of(dt).wait_for_decision("DT-disconnect")
    await eventually(lambda: all_updated(dt, "DT-disconnect"))
    await asyncio.sleep(0.3)
    assert len(backend_of(dt).decisions) == 1


async def test_an_ack_lost_on_a_closed_socket_still_ends_with_the_card_redrawn(
    dt: Embedded,
) -> None:
    result, ann, delivery = await _click_mid_fault(dt, "kill")
    assert result.error is not None  # the clicker saw DingTalk's failure: nothing comes again
    await backend_of(dt).wait_for_decision("DT-kill")
    await eventually(lambda: card_shows(dt, ann, delivery, "approved"))
    assert [v.source for v in card_of(dt, ann, delivery).versions] == ["create", "update"]
    await asyncio.sleep(0.3)
    assert len(backend_of(dt).decisions) == 1
    status, _ = await get(dt, "/readyz")
    assert status == 200  # reconnected, well before the SDK's own 10 s sleep


# -- rate limits -------------------------------------------------------------------------------
async def test_a_throttled_burst_is_delayed_not_dropped(dt: Embedded) -> None:
    seats = [await dt.seat("dingtalk", f"b{i}", f"Approver {i}") for i in range(4)]
    sandbox = sandbox_of(dt)
    sandbox.throttle(5)  # the next five card calls get 403 QpsLimit
    await submit(dt, "DT-BURST", seats)
    for seat in seats:
        assert len(sandbox.cards(seat.address)) == 1
        assert sandbox.usage(seat.address).cards_created == 1
    _, metrics = await get(dt, "/metrics")
    throttled = [
        line for line in metrics.splitlines() if line.startswith("gateway_throttled_total{")
    ]
    assert throttled and float(throttled[0].split()[-1]) >= 1


# -- chat and lifecycle ------------------------------------------------------------------------
async def test_chat_messages_are_taken_and_stop_leaves_no_thread(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"])
    embedded = await start(settings)
    try:
        sandbox = sandbox_of(embedded)
        await sandbox.wait_connected()
        await embedded.seat("dingtalk", "a1", "Ann")
        await sandbox.send_text("staffa1", "bind 123456")  # returns once ACKed

        async def replied() -> bool:
            return bool(sandbox.messages("staffa1"))

        await eventually(replied)  # the answer goes back through the sessionWebhook
        assert "not valid" in sandbox.messages("staffa1")[-1].text
        assert any(t.name.startswith("dingtalk-stream-") for t in threading.enumerate())
    finally:
        await embedded.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("dingtalk-stream-")]


async def test_an_expired_token_is_refreshed_and_the_card_still_goes_out(dt: Embedded) -> None:
    ann = await dt.seat("dingtalk", "a1", "Ann")
    await submit(dt, "DT-TOK1", [ann])
    sandbox_of(dt).revoke_token()  # the cached token now gets 400 InvalidAuthentication
    cards = await submit(dt, "DT-TOK2", [ann])
    assert card_of(dt, ann, cards["a1"]).params["state"] == "pending"
    assert len(sandbox_of(dt).cards(ann.address)) == 2
