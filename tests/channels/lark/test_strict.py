"""The Lark channel against a sandbox as strict as the platform's docs.

Through the gateway's real channel and the sandbox Lark app: tenant tokens that lapse with the
sandbox clock or are revoked, request bodies counted as sent against the 30 KB limit, and cards
too old to update.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.models import ClickAction
from cards.budget import LARK_CARD_LIMIT, fit, json_size
from cards.content import build_content
from cards.lark import _card
from cards.view import ApprovalView, ViewField
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import APP_ID, APP_SECRET
from sandbox.lark.sandbox import LarkSandbox
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.channels.lark.test_stream import FAST_LARK, backend_of, platform, sandbox_of, submit
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES = "/open-apis/im/v1/messages"
# 25 fields of 1,000 characters, 150 of them quotes: 30,640 bytes of card JSON, which the old
# fitting let through, but each quote is escaped once more inside "content": a 38 KB body.
# (Nobody but the two approvers is bound: the cards carry no person picker.)
LONG_VALUE = '"' * 150 + "x" * 850
LONG_FIELDS = [{"name": f"Check {i}", "value": LONG_VALUE} for i in range(25)]


@pytest.fixture
async def lk(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark"], lark=FAST_LARK)
    embedded = await start(settings)
    try:
        await sandbox_of(embedded).wait_connected()
        yield embedded
    finally:
        await embedded.stop()


def token_fetches(sandbox: LarkSandbox) -> int:
    return sum(1 for r in sandbox.requests_log if r.path == TOKEN_PATH)


# -- tenant tokens ------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["lapsed", "revoked"])
async def test_a_refused_tenant_token_is_refreshed_once(lk: Embedded, how: str) -> None:
    seats = [await lk.seat("lark", f"t{i}", f"T {i}") for i in range(4)]
    await submit(lk, "LK-TOK-0", seats[:1])
    sandbox = sandbox_of(lk)
    assert token_fetches(sandbox) == 1
    if how == "lapsed":
        sandbox.advance_clock(7201)  # tenant_access_token lives 7200 s
    else:
        sandbox.revoke_tokens()
    calls = len(sandbox.requests_log)

    await submit(lk, "LK-TOK-1", seats)  # four cards, each sent once the token is fresh

    after = sandbox.requests_log[calls:]
    refused = [r.code for r in after if r.path == MESSAGES and r.code != 0]
    assert refused and set(refused) == {99991668 if how == "lapsed" else 99991663}
    assert sum(1 for r in after if r.path == TOKEN_PATH) == 1  # exactly one refresh
    assert sandbox.tokens_issued == 2
    for seat in seats:
        assert len(sandbox.cards(seat.address)) == 2 if seat is seats[0] else 1


# -- the 30 KB request body -----------------------------------------------------------------------
def long_view(state_ref: str) -> ApprovalView:
    return ApprovalView(
        ticket_id="LK-LONG",
        title="t",
        fields=tuple(ViewField(name=f["name"], value=f["value"]) for f in LONG_FIELDS),
        submitter="Chen Jie",
        approver="Bob",
        console_url="https://dms.example.com/tickets/LK-LONG",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        action_ref=state_ref,
    )


def fitted_as_before(view: ApprovalView) -> dict[str, Any]:
    """The card as the gateway fitted it before: 30 KB of card JSON, not of the body sent."""
    return fit(lambda budget: _card(build_content(view, budget), ()), json_size, LARK_CARD_LIMIT)


async def test_a_long_ticket_is_fitted_to_the_body_as_sent(lk: Embedded) -> None:
    ann = await lk.seat("lark", "a1", "Ann")
    bob = await lk.seat("lark", "a2", "Bob")
    ticket = sample_ticket("LK-LONG", [approver("a1", "Ann"), approver("a2", "Bob")])
    ticket["fields"] = LONG_FIELDS
    status, receipt = await backend_of(lk).submit(ticket)
    assert status == 202, receipt
    cards = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}
    sandbox = sandbox_of(lk)

    async def patched() -> bool:
        return any(r.method == "PATCH" for r in sandbox.requests_log)

    await eventually(lambda: _held(lk, [(ann, cards["a1"]), (bob, cards["a2"])]))
    await platform(lk).click(ann, cards["a1"], ClickAction.APPROVE, "ok")
    await eventually(patched)  # Bob's card redrawn as approved
    carried = [r for r in sandbox.requests_log if r.path.startswith(MESSAGES)]
    assert {r.method for r in carried} == {"POST", "PATCH"}
    assert all(r.code == 0 and r.size <= LARK_CARD_LIMIT for r in carried), carried

    # The card as fitted before goes out as a body over 30 KB, which the platform refuses.
    message = platform(lk).message_of(bob, cards["a2"])
    answer = await asyncio.to_thread(_sdk_patch, sandbox, message.message_id, long_view("x"))
    assert answer == 230025
    assert sandbox.requests_log[-1].size > LARK_CARD_LIMIT


async def _held(embedded: Embedded, cards: list[tuple[Seat, str]]) -> bool:
    try:
        for seat, delivery_id in cards:
            platform(embedded).message_of(seat, delivery_id)
    except KeyError:
        return False
    return True


def _sdk_patch(sandbox: LarkSandbox, message_id: str, view: ApprovalView) -> int:
    import lark_oapi as lark
    from lark_oapi.api.im.v1 import PatchMessageRequest, PatchMessageRequestBody

    client = (
        lark.Client.builder()
        .app_id(APP_ID)
        .app_secret(APP_SECRET)
        .domain(sandbox.base_url)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    content = json.dumps(fitted_as_before(view), ensure_ascii=False)
    body = PatchMessageRequestBody.builder().content(content).build()
    request = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
    code: int = client.im.v1.message.patch(request).code
    return code


# -- cards too old to update ----------------------------------------------------------------------
async def test_an_update_of_a_15_day_old_card_is_given_up(lk: Embedded) -> None:
    ann = await lk.seat("lark", "a1", "Ann")
    await submit(lk, "LK-OLD", [ann])
    sandbox = sandbox_of(lk)
    sandbox.advance_clock(15 * 24 * 3600)

    status, body = await backend_of(lk).withdraw("LK-OLD")
    assert status in (200, 202), body

    async def failed() -> bool:
        return [d["state"] for d in (await trace(backend_of(lk), "LK-OLD"))["deliveries"]] == [
            "failed"
        ]

    # Given up at once with the platform's reason in the trace: no retry can make it newer.
    await eventually(failed)
    [delivery] = (await trace(backend_of(lk), "LK-OLD"))["deliveries"]
    assert "230031" in delivery["reason"] and "14 days" in delivery["reason"]
    # Nothing more is tried: no update job is left waiting for a retry.
    async with aiohttp.ClientSession() as s, s.get(f"{lk.gateway.url}/metrics") as r:
        metrics = await r.text()
    waiting = [
        line
        for line in metrics.splitlines()
        if line.startswith('gateway_outbox_depth{kind="update_card"}')
    ]
    assert all(line.endswith(" 0.0") for line in waiting), waiting
    patches = [r for r in sandbox.requests_log if r.method == "PATCH"]
    assert [r.code for r in patches if r.code != 99991668] == [230031]
