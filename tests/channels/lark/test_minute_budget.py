"""The Lark app's two limits per API (50 calls a second, 1000 in any minute), held by the
channel's own budgets: 1,200 cards through ``Messages`` on a virtual clock, with late wake-ups,
never make more than 50 calls in any second or 1000 in any minute, and every card goes exactly
once; and the limits are used: a burst goes at the per-second pace until the minute's 1000
would be exceeded. Nothing waits in real time: the clock moves when every sender waits on it."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from bot.channels.common.ratelimit import LocalLimits
from bot.channels.lark.api import Answer
from bot.channels.lark.messages import MESSAGES, Messages
from bot.errors import ChannelDeferred
from bot.settings.config import LarkSettings
from tests.support.clock import MovableClock
from tests.support.pacing import VirtualTimer, most_in_window

CARDS, USERS, SEND_SLOTS = 1200, 100, 8


class Platform:
    """The OpenAPI as seen from the app: when each send arrived, and for whom."""

    def __init__(self, timer: VirtualTimer) -> None:
        self._timer = timer
        self.sends: list[tuple[float, str]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | bytes | None = None,
    ) -> Answer:
        if path != MESSAGES:  # the tenant token
            return Answer(200, {}, {"code": 0, "tenant_access_token": "t-1", "expire": 7200})
        assert isinstance(body, bytes)  # written once by the client, as it goes on the wire
        self.sends.append((self._timer.now(), json.loads(body)["receive_id"]))
        return Answer(200, {}, {"code": 0, "data": {"message_id": f"om_{len(self.sends)}"}})


def gateways(timer: VirtualTimer, clock: MovableClock, replicas: int = 1) -> list[Messages]:
    """``replicas`` gateways' Lark clients sending to one platform, sharing their budgets."""
    limits, platform = LocalLimits(now=clock), Platform(timer)
    built = []
    for _ in range(replicas):
        messages = Messages(LarkSettings(), "cli_app", "secret", limits)
        messages.transport = platform  # type: ignore[assignment]
        messages.token._transport = platform  # type: ignore[assignment]
        messages.timer = timer
        built.append(messages)
    return built


async def send_all(timer: VirtualTimer, senders: list[Messages], receivers: list[str]) -> None:
    """Every card of ``receivers`` through ``SEND_SLOTS`` outbox slots of each sender."""
    queue = list(receivers)

    async def send_lane(messages: Messages) -> None:
        while queue:
            receiver = queue.pop(0)
            while True:
                try:
                    await messages.create(receiver, "open_id", "interactive", "{}")
                    break
                except ChannelDeferred as exc:  # the outbox puts the job back for that long
                    await timer.sleep(exc.retry_after or 0.0)

    await timer.run([send_lane(m) for m in senders for _ in range(SEND_SLOTS)])


def sent(messages: Messages) -> list[tuple[float, str]]:
    platform = messages.transport
    assert isinstance(platform, Platform)
    return platform.sends


@pytest.mark.parametrize("stall", [0.0, 0.3])
async def test_1200_cards_keep_both_windows_and_none_is_dropped(stall: float) -> None:
    clock = MovableClock(1_000_000.0)
    # One wake-up in forty is late by ``stall``: the loop was busy.
    timer = VirtualTimer(clock, stall=itertools.cycle([0.0] * 39 + [stall]).__next__)
    messages = gateways(timer, clock)[0]
    await send_all(timer, [messages], [f"ou_{i % USERS}" for i in range(CARDS)])
    platform = sent(messages)
    stamps = [at for at, _ in platform]
    assert len(stamps) == CARDS and (timer.stalls > 0) == (stall > 0)
    assert sorted(r for _, r in platform) == sorted(f"ou_{i % USERS}" for i in range(CARDS))
    assert most_in_window(stamps, 1.0) <= 50
    assert most_in_window(stamps, 60.0) <= 1000
    if not stall:  # the minute's budget is used, not starved by the margins
        assert most_in_window(stamps, 60.0) >= 990
        # The last 200 go as soon as the first 200 are a minute old, at the per-second pace.
        assert max(stamps) - min(stamps) <= 60.25 + 200 / 48 + 1.0
    for user in {r for _, r in platform}:
        assert most_in_window([at for at, r in platform if r == user], 1.0) <= 5


@pytest.mark.parametrize("replicas", [1, 3])
async def test_a_burst_of_900_goes_at_the_per_second_pace(replicas: int) -> None:
    clock = MovableClock(1_000_000.0)
    timer = VirtualTimer(clock)
    senders = gateways(timer, clock, replicas)
    await send_all(timer, senders, [f"ou_{i % USERS}" for i in range(900)])
    stamps = [at for at, _ in sent(senders[0])]
    assert len(stamps) == 900 and most_in_window(stamps, 1.0) <= 50
    # 48 a second (the per-second budget), none held back for the minute.
    assert max(stamps) - min(stamps) <= 899 / 48 + 0.5


def test_settings_keep_the_minute_inside_the_platforms_1000() -> None:
    settings = LarkSettings()
    # A lane's calls leave its window apart less half a per-second interval (a late wake-up).
    assert settings.app_per_minute <= 1000
    assert settings.app_minute_seconds - 0.5 / settings.app_qps > 60.0
