"""Taps: Approve pressed on cards already delivered, at a tap rate the run actually achieves.

Taps follow cards, and cards follow Lark's limits (1000 sends a minute): offering requests
faster than that measures the send queue, not the taps. So the cards are delivered first (one
approver each, waited for), then pressed in an open loop at the offered tap rate by the
platforms process itself (``bench.press``: every card's button found before the first press,
so the driver sends one control request, not one per tap, and a press costs what a Lark
client's tap does). The rows give the rate achieved (first press to last, from the presses'
own stamps), how late the presses started against their schedule, how soon each press was
answered and whether the answer carried the decided card (the click decided in its own answer)
or a "processing" toast alone, and the click → decision latency at the backend over every tap (taps with no decision within the drain time are
censored: counted, and beyond any percentile they reach): once on a quiet outbox (50 taps/s),
once behind a send backlog (200 taps/s, with as many requests as the size says submitted just
before, their sends queued behind Lark's limit; the backlog waits to drain after the row).
"""

from __future__ import annotations

import math
from typing import Any

from bench import footprint
from bench.e2e import USERS, e2e_accounts
from bench.load import Signed, percentile, signed_submit, submit_all
from bench.run import Run, ms, times

SUBMIT_CONCURRENCY = 16


def _requests(run: Run, phase: str, n: int) -> list[Signed]:
    accounts = e2e_accounts()
    return [
        signed_submit(run.host.secret, t, [(accounts[i % USERS], "sg")])
        for i, t in enumerate(run.ids(phase, n))
    ]


async def _delivered(run: Run, requests: list[Signed]) -> list[tuple[str, str, str]]:
    """Submit the requests (one Lark approver each); (delivery, account, ticket) of the cards
    that arrived within the time Lark's limits need for them."""
    accepted = await submit_all(run.host, requests, SUBMIT_CONCURRENCY)
    planned = [
        (d["delivery_id"], d["account_id"], ticket)
        for ticket, r in accepted
        for d in r["deliveries"]
    ]
    within = 60 + len(requests) / 10
    await run.fleet.wait_for(lambda: all(run.fleet.card(d) for d, _, _ in planned), within, 0.5)
    return [c for c in planned if run.fleet.card(c[0]) is not None]


async def tap_rate(run: Run, rate: float, seconds: float, backlog: int = 0) -> dict[str, Any]:
    """Deliver the cards, queue ``backlog`` more requests' sends, then tap at ``rate``."""
    n = max(2, int(rate * seconds))
    phase = f"tap{'b' if backlog else ''}{int(rate)}"
    cards = await _delivered(run, _requests(run, phase, n))
    queued, more = None, []
    if backlog:
        more = await submit_all(run.host, _requests(run, phase + "q", backlog), SUBMIT_CONCURRENCY)
        queued = await footprint.outbox_depth(run)
    presses = await run.fleet.platforms.lark_taps(rate, [(a, d) for d, a, _ in cards])
    pressed = {str(p["delivery"]): float(p["at"]) for p in presses}
    tickets = {d: t for d, _, t in cards if d in pressed}
    await run.fleet.wait_for(
        lambda: all(run.fleet.decisions(t) for t in tickets.values()), run.sizes.drain, 0.2
    )
    result = _tally(run, pressed, tickets)
    late = [float(p["late"]) for p in presses]
    result.update(
        offered_rate=rate,
        cards=n,
        delivered=len(cards),
        backlog=backlog,
        queued=queued,
        failed_taps=sum(1 for p in presses if p["failed"]),
        late_p99_ms=percentile(late, 0.99) * 1000,
        **answers(presses),
    )
    run.taps_last_phase += len(pressed)
    run.raw[f"taps_{rate:g}{'_backlog' if backlog else ''}"] = result
    _rows(run, result)
    if more:  # the next phase starts once these are out, not with them still queued
        sent = [d["delivery_id"] for _, r in more for d in r["deliveries"]]
        await run.fleet.wait_for(lambda: all(run.fleet.card(d) for d in sent), 60 + backlog / 10)
    return result


def _tally(run: Run, pressed: dict[str, float], tickets: dict[str, str]) -> dict[str, Any]:
    latencies = []
    for delivery, at in pressed.items():
        got = run.fleet.decisions(tickets[delivery])
        latencies.append(min(t for _, t in got) - at if got else math.inf)
    return {
        "tapped": len(pressed),
        "achieved_rate": achieved_rate(list(pressed.values())),
        "censored": sum(1 for v in latencies if math.isinf(v)),
        "decision_p50_ms": percentile(latencies, 0.5) * 1000,
        "decision_p99_ms": percentile(latencies, 0.99) * 1000,
    }


def answers(presses: list[dict[str, Any]]) -> dict[str, Any]:
    """How the presses were answered: tap → answer p50/p99 (a press with no answer within the
    platform's 3 s counts as beyond every answered one), and how many answers carried the
    clicker's redrawn card (the click decided in its own answer: each request here has one
    approver) against a toast alone ("processing": the decision came after the answer)."""
    waits = [math.inf if p["failed"] else float(p["answered"]) for p in presses]
    return {
        "answer_p50_ms": percentile(waits, 0.5) * 1000,
        "answer_p99_ms": percentile(waits, 0.99) * 1000,
        "decided_in_answer": sum(1 for p in presses if not p["failed"] and p["card"]),
        "toast_only": sum(1 for p in presses if not p["failed"] and not p["card"]),
    }


def achieved_rate(stamps: list[float]) -> float:
    """Taps a second from the first press to the last (NaN with fewer than two, or no span)."""
    if len(stamps) < 2:
        return math.nan
    span = max(stamps) - min(stamps)
    return (len(stamps) - 1) / span if span > 0 else math.nan


def _rows(run: Run, r: dict[str, Any]) -> None:
    section = f"taps on delivered cards at {r['offered_rate']:g}/s offered"
    target = "p99 ≤ 50 ms, 0 censored"
    depth = ""
    if r["backlog"]:
        section += f", {r['backlog']:,} requests' sends queued behind Lark's limit"
        target = "p99 ≤ 2.5 s on PostgreSQL ×1 and ×3, 0 censored"
        if r["queued"] is not None:
            depth = f"; outbox depth {r['queued']:.0f} at the first tap"
    loop99 = run.loopback_ms(0.99)
    run.add(
        section,
        "taps/s achieved (first press to last); taps / cards delivered / requested; "
        "presses late against the schedule p99; failed taps",
        f"{r['achieved_rate']:.1f}/s; {r['tapped']} / {r['delivered']} / {r['cards']}; "
        f"{ms(r['late_p99_ms'])}; {r['failed_taps']}{depth}",
        f"{r['offered_rate']:g}/s offered",
        times(r["achieved_rate"], r["offered_rate"]),
        "≥ 0.95x, 0 failed",
    )
    run.add(
        section,
        "tap → its answer p50 / p99; answered with the decided card / a toast alone / not",
        f"{ms(r['answer_p50_ms'])} / {ms(r['answer_p99_ms'])}; "
        f"{r['decided_in_answer']} / {r['toast_only']} / {r['failed_taps']}",
        f"{run.loopback_ms(0.5):.2f} / {loop99:.2f} ms loopback",
        times(r["answer_p99_ms"], loop99) + " (p99)",
        "p99 ≤ 2.5 s (the answer budget), every answer with its card",
    )
    run.add(
        section,
        "tap → decision at backend p50 / p99; censored (none within the drain time)",
        f"{ms(r['decision_p50_ms'])} / {ms(r['decision_p99_ms'])}; {r['censored']}",
        f"{run.loopback_ms(0.5):.2f} / {loop99:.2f} ms loopback",
        times(r["decision_p99_ms"], loop99) + " (p99)",
        target,
    )


async def taps(run: Run) -> None:
    """The tap rows: a real 50/s on a quiet outbox, then 200/s behind a send backlog."""
    await tap_rate(run, *run.sizes.taps)
    rate, seconds, backlog = run.sizes.backlog_taps
    await tap_rate(run, rate, seconds, backlog)
