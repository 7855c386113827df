"""End to end at offered rates: accepted → first card, and click → decision at the backend.

An open loop submits requests at the offered rate (two Lark approvers each, the real limits
on), whatever the gateway's pace. Each request's first card is clicked (Approve) over the Lark
long connection as soon as it is seen; the host stamps the card's creation, the press, and the
decision's arrival at the sandbox backend. The baseline is the loopback round trip.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from bench.load import open_loop, percentile, signed_submit
from bench.run import Run, ms, times

USERS = 100
POLL = 0.05


def e2e_accounts() -> list[str]:
    """The approvers of the end-to-end phases."""
    return [f"e{i}" for i in range(USERS)]


class Tracker:
    """Per-request stamps of one rate, filled in by the submit tasks and the poller."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.deliveries: dict[str, list[tuple[str, str]]] = {}  # ticket -> [(delivery, account)]
        self.first_card: dict[str, float] = {}
        self.clicked: dict[str, float] = {}
        self.failed_clicks = 0
        self.refused = 0


async def one_rate(run: Run, rate: float, seconds: float) -> dict[str, Any]:
    """Offer ``rate`` requests/s for ``seconds``; wait up to the drain time for decisions."""
    count = max(1, int(rate * seconds))
    ids = run.ids(f"e2e{int(rate)}", count)
    accounts = e2e_accounts()
    track = Tracker()
    stop = asyncio.Event()
    poller = asyncio.create_task(_poll(run, stop))

    async def one(i: int) -> None:
        pair = [(accounts[(2 * i) % USERS], "sg"), (accounts[(2 * i + 1) % USERS], "sg")]
        item = signed_submit(run.host.secret, ids[i], pair)
        status, receipt, at = await run.host.submit(item)
        if status != 202:
            track.refused += 1
            return
        track.accepted[ids[i]] = at
        planned = [(d["delivery_id"], d["account_id"]) for d in receipt["deliveries"]]
        track.deliveries[ids[i]] = planned
        await _click_first(run, track, ids[i], planned, run.sizes.drain)

    errors = await open_loop(rate, count, one)
    await run.fleet.wait_for(
        lambda: all(run.fleet.decisions(t) for t in track.clicked), run.sizes.drain, 0.2
    )
    stop.set()
    await poller
    result = _tally(run, track, count)
    run.taps_last_phase = len(track.clicked)
    result.update(rate=rate, seconds=seconds, errors=[repr(e) for e in errors[:5]])
    run.raw[f"e2e_{rate:g}"] = result
    _rows(run, result)
    return result


async def _poll(run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await run.fleet.refresh()
        await asyncio.sleep(POLL)


async def _click_first(
    run: Run, track: Tracker, ticket: str, planned: list[tuple[str, str]], within: float
) -> None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        seen = [(run.fleet.card(d), d, a) for d, a in planned]
        cards = [(card, d, a) for card, d, a in seen if card is not None]
        if cards:
            card, delivery, account = min(cards, key=lambda c: c[0][2])
            track.first_card[ticket] = card[2]
            pressed = await card[0].click("lark", account, delivery)
            track.clicked[ticket] = float(pressed["at"])
            track.failed_clicks += bool(pressed["failed"])
            return
        await asyncio.sleep(POLL)


def _tally(run: Run, track: Tracker, count: int) -> dict[str, Any]:
    to_card = [track.first_card[t] - track.accepted[t] for t in track.first_card]
    decided: dict[str, float] = {}
    doubles: dict[str, list[str]] = {}  # ticket -> webhook ids, where more than one arrived
    for ticket in track.clicked:
        got = run.fleet.decisions(ticket)
        if got:
            decided[ticket] = min(at for _, at in got)
        if len(got) > 1:
            doubles[ticket] = [webhook for webhook, _ in got]
    to_decision = [decided[t] - track.clicked[t] for t in decided]
    # Censored: accepted with no card, tapped with no decision, within the drain time. They
    # count beyond every completed sample, so a percentile they reach says "censored".
    no_card = len(track.accepted) - len(track.first_card)
    no_decision = len(track.clicked) - len(decided)
    to_card += [math.inf] * no_card
    to_decision += [math.inf] * no_decision
    return {
        "censored_cards": no_card,
        "censored_decisions": no_decision,
        "card_rate": _rate(list(track.first_card.values())),
        "tap_rate": _rate(list(track.clicked.values())),
        "offered": count,
        "accepted": len(track.accepted),
        "refused": track.refused,
        "with_card": len(track.first_card),
        "clicked": len(track.clicked),
        "failed_clicks": track.failed_clicks,
        "decided": len(decided),
        "doubled_decisions": sum(len(w) - 1 for w in doubles.values()),
        "doubles": doubles,
        "card_p50_ms": percentile(to_card, 0.5) * 1000,
        "card_p99_ms": percentile(to_card, 0.99) * 1000,
        "decision_p50_ms": percentile(to_decision, 0.5) * 1000,
        "decision_p99_ms": percentile(to_decision, 0.99) * 1000,
    }


def _rate(stamps: list[float]) -> float:
    """Events per second, first to last (NaN under two)."""
    if len(stamps) < 2 or max(stamps) == min(stamps):
        return math.nan
    return (len(stamps) - 1) / (max(stamps) - min(stamps))


def _rows(run: Run, r: dict[str, Any]) -> None:
    section = f"end to end at {r['rate']:g} requests/s ({r['offered']} requests, 2 approvers, real limits)"
    loop50, loop99 = run.loopback_ms(0.5), run.loopback_ms(0.99)
    base = f"{loop50:.2f} / {loop99:.2f} ms loopback"
    run.add(
        section,
        "achieved: requests given a first card /s; taps /s",
        f"{r['card_rate']:.1f}/s; {r['tap_rate']:.1f}/s",
        f"{r['rate']:g}/s offered",
        times(r["tap_rate"], r["rate"]) + " (taps)",
        "taps follow cards, cards follow Lark's limit",
    )
    run.add(
        section,
        "accepted → first card p50 / p99 (no card in time: censored)",
        f"{ms(r['card_p50_ms'])} / {ms(r['card_p99_ms'])}",
        base,
        times(r["card_p99_ms"], loop99) + " (p99)",
        "p99 ≤ 100 ms while the limit has room",
    )
    run.add(
        section,
        "click → decision at backend p50 / p99 (no decision in time: censored)",
        f"{ms(r['decision_p50_ms'])} / {ms(r['decision_p99_ms'])}",
        base,
        times(r["decision_p99_ms"], loop99) + " (p99)",
        "p99 ≤ 50 ms",
    )
    drain = f"{run.sizes.drain:g} s"
    run.add(
        section,
        f"first card within {drain} of the 202 / tapped / decided; doubled",
        f"{r['with_card']} / {r['clicked']} / {r['decided']} of {r['offered']}; {r['doubled_decisions']}",
        f"{r['offered']} / {r['offered']} / {r['offered']}; 0",
        "",
        "all, 0 doubled",
    )


def _has_card(run: Run, delivery: str) -> Callable[[], bool]:
    return lambda: run.fleet.card(delivery) is not None


WORKER_WAIT = 10.0  # seconds a one-at-a-time sample waits for its card before it is censored


async def worker_latency(run: Run, label: str) -> None:
    """Accepted → card, one request at a time (the worker's claim and one send), at a backlog.
    A sample whose card does not come within WORKER_WAIT is censored: counted, and beyond
    every completed sample in the percentiles (never dropped)."""
    samples: list[float] = []
    refused = 0
    accounts = e2e_accounts()
    for i, ticket in enumerate(run.ids(f"wk{label}", run.sizes.samples)):
        item = signed_submit(run.host.secret, ticket, [(accounts[i % USERS], "sg")])
        status, receipt, at = await run.host.submit(item)
        if status != 202:
            refused += 1
            continue
        delivery = receipt["deliveries"][0]["delivery_id"]
        await run.fleet.wait_for(_has_card(run, delivery), WORKER_WAIT, 0.01)
        card = run.fleet.card(delivery)
        samples.append(card[2] - at if card is not None else math.inf)
    censored = sum(1 for v in samples if math.isinf(v))
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    run.raw[f"worker_ms{label}"] = {
        "p50": p50,
        "p99": p99,
        "n": len(samples),
        "censored": censored,
        "refused": refused,
    }
    run.add(
        "growth" if label else "worker",
        f"accepted → card one at a time, {label or '0'} pending: p50 / p99; censored",
        f"{ms(p50)} / {ms(p99)}; {censored} of {len(samples)}"
        + (f" ({refused} refused)" if refused else ""),
        f"{run.loopback_ms(0.5):.2f} ms loopback",
        times(p50, run.loopback_ms(0.5)) + " (p50)",
        "within 20 % of 0 pending, 0 censored",
    )
