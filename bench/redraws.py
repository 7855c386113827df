"""Redraw storm: many decisions in a few seconds, and when every other approver's card shows
the outcome, against the ideal schedule the platforms' own limits allow.

Each request has three approvers, two on Lark and one on DingTalk; once every card is out,
the requests are decided in an open loop at the offered rate, clicks alternating between the
DingTalk approver (whose decision leaves both Lark cards to redraw) and the first Lark approver
(leaving one Lark and one DingTalk card). The clicker's own card is redrawn by the click's
answer; the others by the card APIs (Lark ``PATCH /open-apis/im/v1/messages/{id}``, DingTalk
``PUT /v1.0/card/instances``), stamped where the sandbox takes them.

The ideal (:mod:`bench.ideal`) takes the same press times and cards and sends each redraw at
the earliest moment the platform allows: Lark 50 calls a second and 1000 in any 60 s per API
(with the PATCHes the app made in the minute before the storm), 5 updates a second of one
message; DingTalk 20 calls a second per API. "Decision → every card redrawn" is per decision
and per platform: from the press to the last of its cards on that platform. Refusals are read
from the sandboxes' logs of their answers, as the rate rows of :mod:`bench.rates` do.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import cpu
from bench.ideal import Budget, Call, Limit, completions, schedule
from bench.load import open_loop, percentile, signed_submit, submit_all
from bench.rates import USER_LIMIT_CODE, max_per_second, per_second
from bench.run import (
    DINGTALK_QPS,
    LARK_APP_PER_MINUTE,
    LARK_APP_QPS,
    LARK_MESSAGE_QPS,
    Run,
    ms,
    times,
)

USERS = 100
SUBMIT_CONCURRENCY = 32
LARK_PATCH = Budget(
    "lark PATCH /open-apis/im/v1/messages/{message_id}",
    (Limit(LARK_APP_QPS, 1.0), Limit(LARK_APP_PER_MINUTE, 60.0)),
)
DINGTALK_PUT = Budget("dingtalk PUT /v1.0/card/instances", (Limit(DINGTALK_QPS, 1.0),))
PATCH_PREFIX = "/open-apis/im/v1/messages/"
PUT_PATH = "/v1.0/card/instances"
DINGTALK_QPS_STATUS = 403
LARK_LIMITS = (
    f"{LARK_APP_QPS}/s and {LARK_APP_PER_MINUTE}/60 s per API, {LARK_MESSAGE_QPS}/s per message"
)
DINGTALK_LIMITS = f"{DINGTALK_QPS}/s per API"


@dataclass(frozen=True)
class Card:
    """One approver's card of a request: its delivery, whose it is, on which platform."""

    delivery: str
    account: str
    channel: str  # "lark" or "dingtalk"


def accounts() -> tuple[list[str], list[str]]:
    """The storm's Lark and DingTalk approvers."""
    return [f"rl{i}" for i in range(USERS)], [f"rd{i}" for i in range(USERS)]


def budgets(card: Card) -> tuple[Budget, ...]:
    """What a redraw of ``card`` draws on at its platform."""
    if card.channel == "dingtalk":
        return (DINGTALK_PUT,)
    message = Budget(f"lark message {card.delivery}", (Limit(LARK_MESSAGE_QPS, 1.0),))
    return (LARK_PATCH, message)


def clicked(i: int, cards: Sequence[Card]) -> Card:
    """Whose card decides request ``i``: the DingTalk approver's every other one, else the
    first Lark approver's."""
    wanted = "dingtalk" if i % 2 == 0 else "lark"
    return next(c for c in cards if c.channel == wanted)


async def _delivered(run: Run, n: int) -> list[list[Card]]:
    """Submit ``n`` requests to three approvers; the cards of those whose every card arrived."""
    lark, ding = accounts()
    requests = [
        signed_submit(
            run.host.secret,
            ticket,
            [
                (lark[(2 * i) % USERS], "sg"),
                (lark[(2 * i + 1) % USERS], "sg"),
                (ding[i % USERS], "cn"),
            ],
        )
        for i, ticket in enumerate(run.ids("redraw", n))
    ]
    accepted = await submit_all(run.host, requests, SUBMIT_CONCURRENCY)
    planned = [
        [
            Card(
                d["delivery_id"], d["account_id"], "dingtalk" if d["account_id"] in ding else "lark"
            )
            for d in receipt["deliveries"]
        ]
        for _, receipt in accepted
    ]
    ding_cards = {c.delivery for cards in planned for c in cards if c.channel == "dingtalk"}
    held: set[str] = set()
    deadline = time.perf_counter() + 60 + n / 5
    while time.perf_counter() < deadline:
        await run.fleet.refresh()
        _, holding = await run.fleet.platforms.dingtalk(ding)
        held = {d for ds in holding.values() for d in ds if d in ding_cards}
        lark_out = all(
            run.fleet.card(c.delivery) for cs in planned for c in cs if c.channel == "lark"
        )
        if lark_out and len(held) == len(ding_cards):
            break
        await asyncio.sleep(0.5)
    return [
        cards
        for cards in planned
        if all(
            c.delivery in held if c.channel == "dingtalk" else run.fleet.card(c.delivery)
            for c in cards
        )
    ]


async def redraws(run: Run) -> dict[str, Any]:
    """Deliver the cards, decide every request at the offered rate, tally both platforms."""
    n, seconds = run.sizes.redraws
    lark, ding = accounts()
    await run.fleet.seat("lark", lark)
    await run.fleet.seat("dingtalk", ding)
    requests = await _delivered(run, n)
    _, start_index = await run.fleet.platforms.redrawn()
    await run.fleet.refresh()
    started = time.time()
    before_cpu = cpu.snapshot(run.host_pids)
    prior = [r[4] for r in run.fleet.lark_log(started - 60.0) if _is_patch(r) and r[2] == 200]
    pressed: dict[int, float] = {}
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        card = clicked(i, requests[i])
        got = await run.fleet.platforms.click(card.channel, card.account, card.delivery)
        pressed[i] = float(got["at"])
        failed += bool(got["failed"])

    errors = await open_loop(len(requests) / seconds, len(requests), one)
    others = {i: [c for c in requests[i] if c != clicked(i, requests[i])] for i in sorted(pressed)}
    wanted = {c.delivery for cs in others.values() for c in cs}
    redrawn: dict[str, float] = {}
    since = start_index
    deadline = time.perf_counter() + run.sizes.drain * 2 + len(wanted) / DINGTALK_QPS
    while not wanted <= redrawn.keys() and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        rows, since = await run.fleet.platforms.redrawn(since)
        for _, delivery, at in rows:
            redrawn.setdefault(delivery, at)
    spent = cpu.spent(before_cpu, cpu.snapshot(run.host_pids))
    await run.fleet.refresh()
    dlog, _ = await run.fleet.platforms.dingtalk([])  # no account asked: the log alone
    result: dict[str, Any] = {
        "requests": n,
        "with_every_card": len(requests),
        "decided_offered_per_s": len(requests) / seconds,
        "press_rate_per_s": per_second(len(pressed), _span(list(pressed.values()))),
        "failed_clicks": failed,
        "errors": [repr(e) for e in errors[:5]],
        "prior_patches_60s": len(prior),
        # The gateways' CPU from the first press to the last redraw, per card redrawn (clicks
        # and their answers included).
        "cpu_ms_per_redraw": spent / max(1, len(redrawn)) * 1000,
    }
    for channel in ("lark", "dingtalk"):
        result[channel] = tally(
            channel, pressed, others, redrawn, prior if channel == "lark" else []
        )
    log = run.fleet.lark_log(started)
    patches = [r for r in log if _is_patch(r)]
    result["lark"].update(
        http_429=sum(1 for r in patches if r[2] == 429),
        message_limit_refusals=sum(1 for r in patches if r[3] == USER_LIMIT_CODE),
        calls=len(patches),
        **_use([r[4] for r in patches if r[2] == 200]),
    )
    puts = [r for r in dlog if r[0] == "PUT" and r[1] == PUT_PATH and r[3] >= started]
    result["dingtalk"].update(
        qps_403=sum(1 for r in puts if r[2] == DINGTALK_QPS_STATUS),
        calls=len(puts),
        **_use([r[3] for r in puts if r[2] == 200]),
    )
    run.taps_last_phase = len(pressed)  # each decision leaves its clicker's backstop update
    run.raw["redraws"] = result
    _rows(run, result)
    return result


def _is_patch(row: Sequence[Any]) -> bool:
    return row[0] == "PATCH" and str(row[1]).startswith(PATCH_PREFIX)


def _span(stamps: list[float]) -> float:
    return max(stamps) - min(stamps) if len(stamps) > 1 else math.nan


def _use(stamps: list[float]) -> dict[str, Any]:
    """The calls the platform took: their rate first to last, the most in any 1 s and 60 s."""
    return {
        "ok_calls": len(stamps),
        "rate_per_s": per_second(len(stamps), _span(stamps)),
        "max_1s": max_per_second(stamps),
        "max_60s": max_per_second(stamps, 60.0),
    }


def tally(
    channel: str,
    pressed: dict[int, float],
    others: dict[int, list[Card]],
    redrawn: dict[str, float],
    prior: list[float],
) -> dict[str, Any]:
    """Decision → every card of ``channel`` redrawn, measured and ideal, per decision."""
    per_second_limit = float(LARK_APP_QPS if channel == "lark" else DINGTALK_QPS)
    order = sorted(pressed)
    decided = [pressed[i] for i in order]
    cards = [(k, c) for k, i in enumerate(order) for c in others[i] if c.channel == channel]
    measured = completions(decided, [(k, redrawn.get(c.delivery, math.inf)) for k, c in cards])
    prior_by_budget = {LARK_PATCH.name: prior}
    ideal_at = schedule([Call(decided[k], budgets(c)) for k, c in cards], prior_by_budget)
    ideal = completions(decided, [(k, t) for (k, _), t in zip(cards, ideal_at, strict=True)])
    got = [v for v in measured if v is not None]
    best = [v for v in ideal if v is not None]
    return {
        "cards": len(cards),
        "redrawn": sum(1 for _, c in cards if c.delivery in redrawn),
        "censored": sum(1 for v in got if math.isinf(v)),
        "p50_s": percentile(got, 0.5),
        "p99_s": percentile(got, 0.99),
        "ideal_p50_s": percentile(best, 0.5),
        "ideal_p99_s": percentile(best, 0.99),
        # The ideal sends a second's calls at one instant: first to last overstates its rate
        # by a second's worth, so it is read no higher than the per-second limit.
        "ideal_rate_per_s": min(per_second(len(ideal_at), _span(ideal_at)), per_second_limit),
    }


def _rows(run: Run, r: dict[str, Any]) -> None:
    n, offered = r["with_every_card"], r["decided_offered_per_s"]
    base = f"redraw storm, {n} decisions at {offered:g}/s (2 Lark + 1 DingTalk approvers)"
    for channel, limits in (("lark", LARK_LIMITS), ("dingtalk", DINGTALK_LIMITS)):
        t = r[channel]
        section = f"{base}: {'Lark' if channel == 'lark' else 'DingTalk'} cards"
        run.add(
            section,
            "decision → every other card redrawn p50 / p99; censored",
            f"{ms(t['p50_s'] * 1000)} / {ms(t['p99_s'] * 1000)}; {t['censored']} of {t['cards']} cards",
            f"{ms(t['ideal_p50_s'] * 1000)} / {ms(t['ideal_p99_s'] * 1000)} ideal ({limits})",
            f"{times(t['p50_s'], t['ideal_p50_s'])} / {times(t['p99_s'], t['ideal_p99_s'])}",
            "≤ 1.25x, 0 censored",
        )
        refusals = (
            f"{t['http_429']} / {t['message_limit_refusals']}"
            if channel == "lark"
            else f"{t['qps_403']}"
        )
        held = (
            f"{LARK_APP_QPS} / {LARK_APP_PER_MINUTE}"
            if channel == "lark"
            else f"{DINGTALK_QPS} / —"
        )
        run.add(
            section,
            "redraw calls/s (first to last); max in any 1 s / 60 s; refusals ("
            + ("429 / per-message 230020" if channel == "lark" else "QPS 403")
            + ")",
            f"{t['rate_per_s']:.1f}/s; {t['max_1s']} / {t['max_60s']}; {refusals}",
            f"{t['ideal_rate_per_s']:.1f}/s ideal; {held}; 0",
            times(t["rate_per_s"], t["ideal_rate_per_s"]),
            "≥ 0.95x, held, 0 refusals",
        )
    run.add(
        base,
        "decisions pressed /s (first to last); failed clicks; requests with every card out",
        f"{r['press_rate_per_s']:.1f}/s; {r['failed_clicks']}; {n} of {r['requests']}",
        f"{offered:g}/s offered",
        times(r["press_rate_per_s"], offered),
        "≈ 1x, 0 failed",
    )
