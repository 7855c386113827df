"""Both platforms' streams cut again and again while every approver taps at once.

The sandbox Lark app drops its long connection and the sandbox DingTalk app kills its stream at
seeded random moments during a storm of taps through the real SDKs. A tap the platform could not
deliver is tapped again, as a person does. No click may be lost (every request decided, every
card showing the outcome) or handled twice (the gateway handles at most one click per tap).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bot.core.models import ClickAction
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.dingtalk.sandbox import SandboxError
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.lark.sandbox import DeliveryError
from sandbox.platform import SandboxPlatform, Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, states

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]
SEED = 77
TICKETS = 15
CUTS = 6

Card = tuple[SandboxPlatform, Seat, str]  # the platform, the approver, the delivery


class Storm:
    """Taps sent, and taps the platform got an answer for."""

    def __init__(self) -> None:
        self.taps = 0
        self.answered = 0


async def test_stream_cuts_during_a_click_storm_lose_nothing_and_double_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark", "dingtalk"])
    embedded = await start(settings)
    storm = Storm()
    try:
        cards = await _submit(embedded)
        await asyncio.gather(_storm(cards, storm, rng), _cut(embedded, rng))
        await _tap_until_all_show_it(cards, storm)  # taps lost in a cut, tapped again
        handled = await _clicks_handled(embedded)
        reconnects = _reconnects(embedded)
    finally:
        await embedded.stop()
    assert embedded.backend is not None
    print(
        f"\nstream cuts: {CUTS} cuts, {storm.taps} taps, {storm.answered} answered, {handled} handled"
    )
    assert reconnects == (CUTS // 2, CUTS // 2), reconnects  # every cut was reconnected
    per_ticket = Counter(d.ticket_id for d in embedded.backend.decisions)
    assert len(per_ticket) == TICKETS and set(per_ticket.values()) == {1}
    # Each handled click was a tap (none handled twice); each answered tap was handled.
    assert storm.answered <= handled <= storm.taps, (storm.answered, handled, storm.taps)


async def _submit(embedded: Embedded) -> list[Card]:
    assert embedded.backend is not None
    lark, dingtalk = embedded.platform_of("lark"), embedded.platform_of("dingtalk")
    cards: list[Card] = []
    for i in range(TICKETS):
        seats = {
            "lark": await embedded.seat("lark", f"l{i}", f"Lark {i}"),
            "dingtalk": await embedded.seat("dingtalk", f"d{i}", f"Ding {i}"),
        }
        ticket = sample_ticket(
            f"T-CUT-{i}", [approver(s.account_id, s.display_name) for s in seats.values()]
        )
        status, receipt = await embedded.backend.submit(ticket)
        assert status == 202, receipt
        for d in receipt["deliveries"]:
            platform = lark if d["channel"] == "lark" else dingtalk
            cards.append((platform, seats[d["channel"]], d["delivery_id"]))
    backend = embedded.backend

    async def all_sent() -> bool:
        for i in range(TICKETS):
            if await states(backend, f"T-CUT-{i}") != ["sent", "sent"]:
                return False
        return True

    await eventually(all_sent, within=20)
    return cards


async def _cut(embedded: Embedded, rng: random.Random) -> None:
    lark = embedded.platform_of("lark")
    dingtalk = embedded.platform_of("dingtalk")
    assert isinstance(lark, LarkPlatform) and isinstance(dingtalk, DingTalkPlatform)
    for i in range(CUTS):
        await asyncio.sleep(rng.uniform(0.2, 0.8))
        if i % 2 == 0:
            await lark.app().drop_connection()
        else:
            await dingtalk.sandboxes["dingtalk"].kill()


async def _tap(card: Card, storm: Storm) -> None:
    platform, seat, delivery = card
    if platform.card_state(seat, delivery) != "pending":
        return  # decided meanwhile: the buttons are gone
    storm.taps += 1
    try:
        await platform.click(seat, delivery, ClickAction.APPROVE)
    except (DeliveryError, SandboxError, TimeoutError):
        return  # the platform could not deliver it: the phone shows its error
    except RuntimeError:  # the card was redrawn between the look and the tap (no button)
        storm.taps -= 1
        return
    storm.answered += 1


async def _storm(cards: list[Card], storm: Storm, rng: random.Random) -> None:
    """Both approvers of each request tap at once, request after request, in a seeded rhythm."""
    tasks = []
    for i in range(0, len(cards), 2):
        tasks += [asyncio.create_task(_tap(card, storm)) for card in cards[i : i + 2]]
        await asyncio.sleep(rng.uniform(0.05, 0.3))
    await asyncio.gather(*tasks)


async def _tap_until_all_show_it(cards: list[Card], storm: Storm) -> None:
    async def all_show_it() -> bool:
        await asyncio.gather(*(_tap(card, storm) for card in cards))
        return all(c[0].card_state(c[1], c[2]) == "approved" for c in cards)

    await eventually(all_show_it, within=60)


def _reconnects(embedded: Embedded) -> tuple[int, int]:
    lark = embedded.platform_of("lark")
    dingtalk = embedded.platform_of("dingtalk")
    assert isinstance(lark, LarkPlatform) and isinstance(dingtalk, DingTalkPlatform)
    opened = lark.app().connections_opened, dingtalk.sandboxes["dingtalk"].connections_opened
    return opened[0] - 1, opened[1] - 1


async def _clicks_handled(embedded: Embedded) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(embedded.gateway.url + "/metrics") as response,
    ):
        text = await response.text()
    lines = [line for line in text.splitlines() if line.startswith("gateway_clicks_total{")]
    return int(sum(float(line.split()[-1]) for line in lines))
