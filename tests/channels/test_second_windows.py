"""The per-second limits of Lark (50 in any second) and DingTalk (20 in any second), read
strictly, as the channels' own budgets hold them: a pace with a burst, inside a window of the
platform's calls a second spanning what that many calls take at the pace.

On a virtual clock (``tests.support.pacing``), with calls coming due in any pattern and wake-ups
made late at will, the calls never number more than the platform's limit in any second, even
counted over a second plus the margin each budget keeps for a call's way to the platform; a
quiet app's burst goes at once; a backlog still goes at the pace. And a card update, in its
platform's own lane, waits in place for a slot that a send would be put back for (losing its
place behind the jobs queued after it). Nothing waits in real time."""

from __future__ import annotations

import asyncio
import itertools
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.common.ratelimit import PACE_WITHIN, UPDATE_WITHIN, LocalLimits, take
from bot.channels.dingtalk.api import OpenApi
from bot.channels.dingtalk.channel import UPDATE_CARD
from bot.channels.lark.api import Answer
from bot.channels.lark.messages import MESSAGES, Messages
from bot.core.limits import Budget, Window
from bot.errors import ChannelDeferred
from bot.settings.config import DingTalkSettings, LarkSettings
from tests.support.clock import MovableClock
from tests.support.pacing import VirtualTimer, most_in_window

START = 1_000_000.0
SLOTS = 32  # calls in flight, as a paced platform's update lane holds them
Budgets = tuple[Budget, tuple[Window, ...]]


def lark(limits: LocalLimits) -> Budgets:
    """The Lark app's budgets of its PATCH API, as the channel builds them."""
    return Messages(LarkSettings(), "cli_app", "secret", limits).app_budgets("im.message.patch")


def dingtalk(limits: LocalLimits, burst: int | None = None) -> Budgets:
    """The DingTalk app's budgets of its card update API, as the channel builds them (with
    ``burst``: as it builds them with that burst set)."""
    s = DingTalkSettings() if burst is None else DingTalkSettings(burst=burst)
    api = OpenApi(
        s.api_base,
        "ding-id",
        "secret",
        qps=s.qps,
        burst=s.burst,
        per_second=s.per_second,
        retry_after=s.throttle_retry_seconds,
        limits=limits,
    )
    return api.budgets("/v1.0/card/instances")


async def send(build: object, dues: list[float], stalls: list[float]) -> list[float]:
    """When each call of ``dues`` (seconds from the start) left, through ``SLOTS`` senders; a
    deferred call waits as long as it was told and asks again, as the outbox would."""
    clock = MovableClock(START)
    timer = VirtualTimer(clock, stall=itertools.cycle(stalls or [0.0]).__next__)
    limits = LocalLimits(now=clock)
    assert callable(build)
    pace, windows = build(limits)
    queue = sorted(dues)
    left: list[float] = []

    async def sender() -> None:
        while queue:
            due = START + queue.pop(0)
            await timer.sleep(due - timer.now())
            while True:
                try:
                    await take(limits, pace, what="api", timer=timer, windows=windows)
                    break
                except ChannelDeferred as exc:
                    await timer.sleep(exc.retry_after or 0.0)
            left.append(timer.now())

    await timer.run([sender() for _ in range(SLOTS)])
    return left


# (builder, the platform's calls in any second, the margin kept for a call's way there)
PLATFORMS = [(lark, 50, 0.03), (dingtalk, 20, 0.025), (partial(dingtalk, burst=5), 20, 0.025)]

dues = st.lists(st.floats(0.0, 0.05), min_size=1, max_size=300).map(
    lambda gaps: list(itertools.accumulate(gaps))
)
stalls = st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.005, 0.02, 0.3]), max_size=8)


@settings(max_examples=40, deadline=None)
@given(dues=dues, stalls=stalls, platform=st.sampled_from(PLATFORMS))
def test_no_second_holds_more_than_the_platforms_limit(
    dues: list[float], stalls: list[float], platform: tuple[object, int, float]
) -> None:
    build, limit, margin = platform
    left = asyncio.run(send(build, dues, stalls))
    assert len(left) == len(dues)  # every call went
    # Counted over a second and the margin: a call may reach the platform that much later
    # than the one a second after it, and the platform still sees no more than its limit.
    assert most_in_window(left, 1.0 + margin) <= limit


async def test_a_quiet_apps_burst_goes_at_once() -> None:
    for build, burst in ((lark, LarkSettings().app_burst), (dingtalk, DingTalkSettings().burst)):
        left = await send(build, [0.0] * (burst + 1), [])
        at_once = [t for t in left if t - START < 1e-6]  # float sums of intervals, not a wait
        assert len(at_once) == burst  # the burst at once, the next call at the pace


async def test_a_backlog_goes_at_the_pace_and_keeps_the_minute() -> None:
    s = LarkSettings()
    left = await send(lark, [0.0] * 1200, [])
    assert most_in_window(left, 60.0) <= s.app_per_minute
    first = sorted(left)[: s.app_per_minute]
    # The minute's calls go at the pace after the burst, none held back for the second.
    assert max(first) - START <= (s.app_per_minute - s.app_burst) / s.app_qps + 0.5
    d = DingTalkSettings()
    left = await send(dingtalk, [0.0] * 200, [])
    assert max(left) - START <= (200 - d.burst) / d.qps + 0.5


def test_the_windows_keep_the_margin_the_pace_kept() -> None:
    # Two calls of one lane leave the window's span less half a pace interval (a late
    # wake-up) apart: at least a second and the way to the platform.
    s, d = LarkSettings(), DingTalkSettings()
    assert s.app_per_second / s.app_qps - 0.5 / s.app_qps >= 1.03
    assert d.per_second / d.qps - 0.5 / d.qps >= 1.025


async def test_a_card_update_waits_in_place_for_a_slot_a_send_would_be_put_back_for() -> None:
    # The update lane of a platform holds only its updates: an update waits there for its slot
    # (keeping its place) where a send, in the lane every platform shares, is put back.
    clock = MovableClock(START)
    timer = VirtualTimer(clock)
    limits = LocalLimits(now=clock)
    sent: list[tuple[str, float]] = []

    async def request(method: str, path: str, **_: object) -> Answer:
        if not path.startswith(MESSAGES):
            return Answer(200, {}, {"code": 0, "tenant_access_token": "t-1", "expire": 7200})
        sent.append((method, timer.now()))
        return Answer(200, {}, {"code": 0, "data": {"message_id": "om_1"}})

    messages = Messages(LarkSettings(), "cli_app", "secret", limits)
    messages.transport.request = request  # type: ignore[method-assign]
    messages.timer = timer
    busy = PACE_WITHIN + 3.0  # booked out further than a send waits in place
    for api in ("im.message.patch", "im.message.create"):
        await limits.pause(messages.app_budgets(api)[0].key, busy)

    async def both() -> None:
        with pytest.raises(ChannelDeferred):
            await messages.create("ou_1", "open_id", "interactive", "{}")
        await messages.patch("om_1", "{}", "ou_1")

    await timer.run([both()])
    assert sent == [("PATCH", pytest.approx(START + busy))]


async def test_a_dingtalk_card_update_waits_in_place_too() -> None:
    clock = MovableClock(START)
    timer = VirtualTimer(clock)
    limits = LocalLimits(now=clock)
    s = DingTalkSettings()
    api = OpenApi(
        s.api_base,
        "ding-id",
        "secret",
        qps=s.qps,
        burst=s.burst,
        per_second=s.per_second,
        retry_after=1.0,
        limits=limits,
    )
    api.timer = timer
    sent: list[float] = []

    async def request(
        method: str, path: str, body: dict[str, object], token: str
    ) -> tuple[int, dict[str, object]]:
        sent.append(timer.now())
        return 200, {"success": True}

    async def token() -> str:
        return "t"

    api._request = request  # type: ignore[method-assign]
    api._access_token = token  # type: ignore[method-assign]
    busy = PACE_WITHIN + 3.0
    await limits.pause(api.budgets(UPDATE_CARD)[0].key, busy)

    async def both() -> None:
        with pytest.raises(ChannelDeferred):
            await api.call("PUT", UPDATE_CARD, {})
        await api.call("PUT", UPDATE_CARD, {}, within=UPDATE_WITHIN)

    await timer.run([both()])
    assert sent == [pytest.approx(START + busy)]
