"""The DingTalk channel's access token against a sandbox that lets it lapse and revokes it.

The sandbox answers a revoked or lapsed token as the platform does (``400 InvalidAuthentication``
on v1.0, errcode 88 / sub_code 40014 on topapi) and counts tokens on its own clock, which the
tests move; the gateway counts the token's lifetime on its channel's clock, moved alongside when
a test wants both sides to see time pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.embedded import Embedded, start
from tests.channels.dingtalk.test_stream import (
    FAST_DINGTALK,
    card_of,
    platform,
    sandbox_of,
    submit,
)
from tests.cli.test_lookup_cli import _lookup
from tests.conftest import fast_settings
from tests.http.test_bindings_api import _token
from tests.support.clock import MovableClock

TOKEN_LIFETIME = 7200  # expireIn


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


def refusals(sandbox: DingTalkSandbox) -> list[tuple[str, int]]:
    """Business calls the sandbox refused, as (path, status)."""
    return [(path, status) for _, path, status, _ in sandbox.calls_log if status != 200]


@pytest.mark.parametrize("channel", ["dingtalk", "dingtalk_enterprise"])
async def test_a_revoked_token_is_replaced_once_and_the_next_card_arrives(
    dt: Embedded, channel: str
) -> None:
    sandbox = sandbox_of(dt, channel)
    seats = [await dt.seat(channel, f"a{i}", f"Approver {i}") for i in range(3)]
    await submit(dt, "DT-REV1", seats[:1])
    assert sandbox.tokens_issued == 1
    sandbox.revoke_token()  # a rotation on the platform's side, mid-run

    cards = await submit(dt, "DT-REV2", seats)  # three cards, racing on the refused token

    for seat in seats:
        assert card_of(dt, seat, cards[seat.account_id]).params["state"] == "pending"
    assert len(sandbox.cards(seats[0].address)) == 2
    assert sandbox.token_fetches == 2 and sandbox.tokens_issued == 2  # exactly one new token
    refused = refusals(sandbox)
    assert refused and set(refused) == {("/v1.0/card/instances/createAndDeliver", 400)}


async def test_a_token_lapsed_on_the_platforms_clock_is_replaced_once(dt: Embedded) -> None:
    sandbox = sandbox_of(dt)
    ann = await dt.seat("dingtalk", "a1", "Ann")
    await submit(dt, "DT-LAP1", [ann])
    # Only the platform's clock moves: the gateway still believes its token fresh, and learns
    # otherwise from the 400.
    sandbox.advance_clock(TOKEN_LIFETIME + 1)

    cards = await submit(dt, "DT-LAP2", [ann])

    assert card_of(dt, ann, cards["a1"]).params["state"] == "pending"
    assert sandbox.token_fetches == 2 and sandbox.tokens_issued == 2
    assert refusals(sandbox) == [("/v1.0/card/instances/createAndDeliver", 400)]


async def test_the_token_is_fetched_again_before_it_lapses(dt: Embedded) -> None:
    sandbox = sandbox_of(dt)
    clock = MovableClock()
    platform(dt).channel("dingtalk").api.clock = clock
    ann = await dt.seat("dingtalk", "a1", "Ann")
    await submit(dt, "DT-PRO1", [ann])
    # Both sides 7000 s on: the token is still good for 200 s, inside the refresh margin.
    clock.advance(TOKEN_LIFETIME - 200)
    sandbox.advance_clock(TOKEN_LIFETIME - 200)

    await submit(dt, "DT-PRO2", [ann])
    assert sandbox.token_fetches == 2  # fetched ahead of time: the platform renewed it
    clock.advance(400)
    sandbox.advance_clock(400)  # past the first fetch's 7200 s: the renewal holds
    cards = await submit(dt, "DT-PRO3", [ann])

    assert card_of(dt, ann, cards["a1"]).params["state"] == "pending"
    assert sandbox.token_fetches == 2 and sandbox.tokens_issued == 1
    assert refusals(sandbox) == []  # no call ever went out with a lapsed token


async def test_a_mobile_lookup_survives_a_lapsed_token(tmp_path: Path) -> None:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"]))
    try:
        sandbox = sandbox_of(embedded)
        sandbox.add_user("staff-mobile", name="Mo", mobile="13800001111")
        admin, _ = await _token(embedded, "admin")
        code, out, err = await _lookup(embedded, admin, "--dingtalk-mobile", "13800001111")
        assert code == 0 and out.splitlines()[0] == "ACCOUNT\tdingtalk\tstaff-mobile", err
        sandbox.advance_clock(TOKEN_LIFETIME + 1)  # topapi now answers errcode 88 / 40014

        code, out, err = await _lookup(embedded, admin, "--dingtalk-mobile", "13800001111")

        assert code == 0 and out.splitlines()[0] == "ACCOUNT\tdingtalk\tstaff-mobile", err
        assert sandbox.token_fetches == 2 and sandbox.tokens_issued == 2
    finally:
        await embedded.stop()
