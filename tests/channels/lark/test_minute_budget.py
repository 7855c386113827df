"""The Lark app's two limits per API (50 calls a second, 1000 a minute), held by the channel's
own budgets: 1,200 cards through ``Messages`` on a virtual clock, with late wake-ups, never
make more than 50 calls in any second or 1000 in any minute, and every card goes exactly once.
Nothing waits in real time: the clock moves when every sender waits on it."""

from __future__ import annotations

import itertools
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
        body: dict[str, Any] | None = None,
    ) -> Answer:
        if path != MESSAGES:  # the tenant token
            return Answer(200, {}, {"code": 0, "tenant_access_token": "t-1", "expire": 7200})
        assert body is not None
        self.sends.append((self._timer.now(), body["receive_id"]))
        return Answer(200, {}, {"code": 0, "data": {"message_id": f"om_{len(self.sends)}"}})


@pytest.mark.parametrize("stall", [0.0, 0.3])
async def test_1200_cards_keep_both_windows_and_none_is_dropped(stall: float) -> None:
    clock = MovableClock(1_000_000.0)
    # One wake-up in forty is late by ``stall``: the loop was busy.
    timer = VirtualTimer(clock, stall=itertools.cycle([0.0] * 39 + [stall]).__next__)
    messages = Messages(LarkSettings(), "cli_app", "secret")
    platform = Platform(timer)
    messages.transport = platform  # type: ignore[assignment]
    messages.token._transport = platform  # type: ignore[assignment]
    messages.limits, messages.timer = LocalLimits(now=clock), timer
    queue = [f"ou_{i % USERS}" for i in range(CARDS)]

    async def send_lane() -> None:
        while queue:
            receiver = queue.pop(0)
            while True:
                try:
                    await messages.create(receiver, "open_id", "interactive", "{}")
                    break
                except ChannelDeferred as exc:  # the outbox puts the job back for that long
                    await timer.sleep(exc.retry_after or 0.0)

    await timer.run([send_lane() for _ in range(SEND_SLOTS)])
    stamps = [at for at, _ in platform.sends]
    assert len(stamps) == CARDS and (timer.stalls > 0) == (stall > 0)
    assert sorted(r for _, r in platform.sends) == sorted(f"ou_{i % USERS}" for i in range(CARDS))
    assert most_in_window(stamps, 1.0) <= 50
    assert most_in_window(stamps, 60.0) <= 1000
    if not stall:  # the minute's budget is used, not starved by the margins
        assert most_in_window(stamps, 60.0) >= 990
    for user in {r for _, r in platform.sends}:
        assert most_in_window([at for at, r in platform.sends if r == user], 1.0) <= 5


def test_settings_keep_the_minute_inside_the_platforms_1000() -> None:
    settings = LarkSettings()
    assert settings.app_per_minute + settings.app_burst <= 1000
