"""Taps: Approve pressed on cards already delivered, at a tap rate the run actually achieves.

Taps follow cards, and cards follow Lark's limits (1000 sends a minute): offering requests
faster than that measures the send queue, not the taps. So the cards are delivered first (one
approver each, waited for), then pressed in an open loop at the offered tap rate; the rows give
the rate achieved (first press to last), the click → decision latency at the backend over every
tap (taps with no decision within the drain time are censored: counted, and beyond any
percentile they reach), once on a quiet outbox and once with a send backlog queued behind
Lark's limit (as many new requests again, submitted just before the taps).
"""

from __future__ import annotations

import math
from typing import Any

from bench import footprint
from bench.e2e import USERS, e2e_accounts
from bench.load import open_loop, percentile, signed_submit, submit_all
from bench.run import Run, ms, times

SUBMIT_CONCURRENCY = 16


async def _delivered(run: Run, phase: str, n: int) -> list[tuple[str, str, str]]:
    """Submit ``n`` requests (one Lark approver each); (delivery, account, ticket) of the cards
    that arrived within the time Lark's limits need for them."""
    accounts = e2e_accounts()
    requests = [
        signed_submit(run.host.secret, t, [(accounts[i % USERS], "sg")])
        for i, t in enumerate(run.ids(phase, n))
    ]
    accepted = await submit_all(run.host, requests, SUBMIT_CONCURRENCY)
    planned = [
        (d["delivery_id"], d["account_id"], ticket)
        for ticket, r in accepted
        for d in r["deliveries"]
    ]
    within = 60 + n / 10
    await run.fleet.wait_for(lambda: all(run.fleet.card(d) for d, _, _ in planned), within, 0.5)
    return [c for c in planned if run.fleet.card(c[0]) is not None]


async def tap_rate(run: Run, rate: float, seconds: float, backlog: bool) -> dict[str, Any]:
    """Deliver the cards, optionally queue a backlog, then tap them at ``rate``."""
    n = max(2, int(rate * seconds))
    phase = f"tap{'b' if backlog else ''}{int(rate)}"
    cards = await _delivered(run, phase, n)
    queued = None
    if backlog:
        accounts = e2e_accounts()
        more = [
            signed_submit(run.host.secret, t, [(accounts[i % USERS], "sg")])
            for i, t in enumerate(run.ids(phase + "q", n))
        ]
        await submit_all(run.host, more, SUBMIT_CONCURRENCY)
        queued = await footprint.outbox_depth(run)
    pressed: dict[str, float] = {}
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        delivery, account, _ = cards[i]
        got = await run.fleet.platforms.click("lark", account, delivery)
        pressed[delivery] = float(got["at"])
        failed += bool(got["failed"])

    errors = await open_loop(rate, len(cards), one)
    tickets = {d: t for d, _, t in cards if d in pressed}
    await run.fleet.wait_for(
        lambda: all(run.fleet.decisions(t) for t in tickets.values()), run.sizes.drain, 0.2
    )
    result = _tally(run, pressed, tickets, failed)
    result.update(
        offered_rate=rate,
        cards=n,
        delivered=len(cards),
        backlog=backlog,
        queued=queued,
        errors=[repr(e) for e in errors[:5]],
    )
    run.taps_last_phase += len(pressed)
    run.raw[f"taps_{rate:g}{'_backlog' if backlog else ''}"] = result
    _rows(run, result)
    return result


def _tally(
    run: Run, pressed: dict[str, float], tickets: dict[str, str], failed: int
) -> dict[str, Any]:
    latencies = []
    for delivery, at in pressed.items():
        got = run.fleet.decisions(tickets[delivery])
        latencies.append(min(t for _, t in got) - at if got else math.inf)
    stamps = sorted(pressed.values())
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else math.nan
    return {
        "tapped": len(pressed),
        "failed_taps": failed,
        "achieved_rate": (len(stamps) - 1) / span if span and not math.isnan(span) else math.nan,
        "censored": sum(1 for v in latencies if math.isinf(v)),
        "decision_p50_ms": percentile(latencies, 0.5) * 1000,
        "decision_p99_ms": percentile(latencies, 0.99) * 1000,
    }


def _rows(run: Run, r: dict[str, Any]) -> None:
    backlog = (
        f", {r['cards']} requests' sends queued behind Lark's limit (outbox depth "
        f"{r['queued']:.0f})"
        if r["backlog"] and r["queued"] is not None
        else ""
    )
    section = f"taps on delivered cards at {r['offered_rate']:g}/s offered{backlog}"
    loop99 = run.loopback_ms(0.99)
    run.add(
        section,
        "taps/s achieved (first press to last); taps / cards delivered / requested",
        f"{r['achieved_rate']:.1f}/s; {r['tapped']} / {r['delivered']} / {r['cards']}",
        f"{r['offered_rate']:g}/s offered",
        times(r["achieved_rate"], r["offered_rate"]),
        "≥ 0.95x",
    )
    run.add(
        section,
        "tap → decision at backend p50 / p99; censored (none within the drain time)",
        f"{ms(r['decision_p50_ms'])} / {ms(r['decision_p99_ms'])}; {r['censored']}",
        f"{run.loopback_ms(0.5):.2f} / {loop99:.2f} ms loopback",
        times(r["decision_p99_ms"], loop99) + " (p99)",
        "p99 ≤ 50 ms, 0 censored",
    )


async def taps(run: Run) -> None:
    """The tap rows: quiet outbox, then with a send backlog."""
    rate, seconds = run.sizes.taps
    for backlog in (False, True):
        await tap_rate(run, rate, seconds, backlog)
