"""Usage metering against the sandbox platforms' own counters, across retries and a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.models import ClickAction
from bot.http.auth import new_token
from bot.store.tokens import TokenStore
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.platform import Seat
from tests.channels.dingtalk.test_stream import FAST_DINGTALK, submit
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, run_cli, states

NO_URGENCY = {"urgent_sms": 0, "urgent_phone": 0}  # no reminder asked for paid urgency
Counts = dict[str, dict[str, int]]  # account_id -> {"sent": n, "updated": m}


async def _token(embedded: Embedded, role: str) -> str:
    token = new_token()
    gateway = embedded.gateway
    await TokenStore(gateway.store).create(token, role, "test", gateway.clock.now())
    return token


async def _get(embedded: Embedded, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(embedded.gateway.url + path, headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


def _dingtalk(embedded: Embedded) -> DingTalkSandbox:
    found = embedded.platform_of("dingtalk")
    assert isinstance(found, DingTalkPlatform)
    return found.sandboxes["dingtalk"]


async def _all(embedded: Embedded, ticket_id: str, state: str) -> bool:
    assert embedded.backend is not None
    return all(s == state for s in await states(embedded.backend, ticket_id))


def _add_platform_counts(total: Counts, sandbox: DingTalkSandbox, seats: list[Seat]) -> None:
    for seat in seats:
        usage = sandbox.usage(seat.address)
        counts = total.setdefault(seat.account_id, {"sent": 0, "updated": 0})
        counts["sent"] += usage.cards_created
        counts["updated"] += usage.cards_updated


async def _first_run(embedded: Embedded, total: Counts) -> None:
    ann = await embedded.seat("dingtalk", "a1", "Ann")
    bob = await embedded.seat("dingtalk", "a2", "Bob")
    platform = embedded.platform_of("dingtalk")
    assert isinstance(platform, DingTalkPlatform)
    _dingtalk(embedded).throttle(4)  # sends are refused and retried before they go through
    cards = await submit(embedded, "U-1", [ann, bob])
    await platform.click(ann, cards["a1"], ClickAction.APPROVE)
    await eventually(lambda: _all(embedded, "U-1", "updated"))
    await submit(embedded, "U-2", [ann])  # left pending over the restart
    _add_platform_counts(total, _dingtalk(embedded), [ann, bob])


async def _second_run(embedded: Embedded, total: Counts) -> None:
    ann = await embedded.seat("dingtalk", "a1", "Ann")
    bob = await embedded.seat("dingtalk", "a2", "Bob")
    platform = embedded.platform_of("dingtalk")
    assert isinstance(platform, DingTalkPlatform)
    _dingtalk(embedded).throttle(3)
    cards = await submit(embedded, "U-3", [ann, bob])
    await platform.click(bob, cards["a2"], ClickAction.REJECT, "not now")
    await eventually(lambda: _all(embedded, "U-3", "updated"))
    await asyncio.sleep(0.3)  # nothing more may arrive at the platform
    _add_platform_counts(total, _dingtalk(embedded), [ann, bob])


async def test_usage_equals_what_the_platform_received_across_retries_and_restart(
    tmp_path: Path,
) -> None:
    settings = fast_settings(
        tmp_path / "data", sandbox_platforms=["dingtalk"], dingtalk=FAST_DINGTALK
    )
    platform_counts: Counts = {}
    first = await start(settings)
    try:
        await _dingtalk(first).wait_connected()
        await _first_run(first, platform_counts)
    finally:
        await first.stop()
    second = await start(settings)  # same data directory: a restart
    try:
        await _dingtalk(second).wait_connected()
        await _second_run(second, platform_counts)
        token = await _token(second, "support")
        status, report = await _get(second, "/v1/usage?channel=dingtalk&group_by=account", token)
        assert status == 200, report
        metered = {
            r["account_id"]: {"sent": r["sent"], "updated": r["updated"]} for r in report["rows"]
        }
        assert metered == platform_counts
        assert platform_counts == {"a1": {"sent": 3, "updated": 1}, "a2": {"sent": 2, "updated": 1}}
        assert report["totals"]["dingtalk"] == {**NO_URGENCY, "sent": 5, "updated": 2}
        await _check_other_views(second, token)
    finally:
        await second.stop()


async def _check_other_views(embedded: Embedded, token: str) -> None:
    _, metrics = await _get(embedded, "/metrics", None)
    assert 'gateway_messages_total{channel="dingtalk",kind="sent"} 5.0' in metrics
    assert 'gateway_messages_total{channel="dingtalk",kind="updated"} 2.0' in metrics
    _, channels = await _get(embedded, "/v1/channels", token)
    dingtalk = next(c for c in channels if c["channel"] == "dingtalk")
    assert dingtalk["usage_this_month"] == {**NO_URGENCY, "sent": 5, "updated": 2}
    _, by_day = await _get(embedded, "/v1/usage", token)
    assert [(r["channel"], r["sent"], r["updated"]) for r in by_day["rows"]] == [("dingtalk", 5, 2)]
    code, out = await _cli(
        embedded.gateway.settings.data_dir, "usage", "--group-by", "account", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["totals"] == {"dingtalk": {**NO_URGENCY, "sent": 5, "updated": 2}}
    code, table = await _cli(embedded.gateway.settings.data_dir, "usage")
    assert code == 0 and "dingtalk" in table and "   5       2" in table


async def test_usage_refuses_missing_and_wrong_tokens_and_bad_dates(tmp_path: Path) -> None:
    embedded = await start(fast_settings(tmp_path / "data"))
    try:
        assert (await _get(embedded, "/v1/usage", None))[0] == 401
        assert (await _get(embedded, "/v1/usage", "agw_wrong"))[0] == 401
        admin = await _token(embedded, "admin")
        status, body = await _get(embedded, "/v1/usage?from=2024-13-01", admin)
        assert status == 422 and "from" in json.dumps(body)
        status, body = await _get(embedded, "/v1/usage?from=2024-02-01&to=2024-01-01", admin)
        assert status == 422
        status, body = await _get(embedded, "/v1/usage?group_by=week", admin)
        assert status == 422
        status, body = await _get(embedded, "/v1/usage?from=2024-01-01&to=2024-01-31", admin)
        assert status == 200 and body["rows"] == [] and body["totals"] == {}
    finally:
        await embedded.stop()


async def test_lark_usage_matches_created_and_updated_cards(tmp_path: Path) -> None:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["lark"],
        lark={"throttle_retry_seconds": 0.1, "ack_budget_seconds": 2.0},
    )
    embedded = await start(settings)
    try:
        platform = embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        sandbox = platform.app()
        await sandbox.wait_connected()
        seats = [await embedded.seat("lark", f"l{i}", f"Lee {i}") for i in range(3)]
        sandbox.throttle(2)
        cards = await submit(embedded, "UL-1", seats)
        await platform.click(seats[0], cards["l0"], ClickAction.APPROVE)
        await eventually(lambda: _all(embedded, "UL-1", "updated"))
        await asyncio.sleep(0.3)
        token = await _token(embedded, "admin")
        _, report = await _get(embedded, "/v1/usage?group_by=account&channel=lark", token)
        metered = {r["account_id"]: (r["sent"], r["updated"]) for r in report["rows"]}
        received = {}
        for seat in seats:
            usage = sandbox.usage(seat.address)
            # The clicker's card is redrawn by the click's own answer: no billable call.
            received[seat.account_id] = (usage.created, usage.patched + usage.delayed_updates)
        assert metered == received == {"l0": (1, 0), "l1": (1, 1), "l2": (1, 1)}
    finally:
        await embedded.stop()


async def _cli(data_dir: Path, *args: str) -> tuple[int, str]:
    run = await run_cli(*args, data_dir=data_dir)
    return run.code, run.output
