"""Intake: signed ``POST /v1/approvals`` at concurrency 64, against the bare endpoint.

Both targets get the same number of freshly signed submissions from the same client session;
the approvers are bound nowhere, so their cards go to the memory channel and the outbox worker's
share of the work costs no platform call (the platform phases measure that).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.load import Signed, closed_loop, memory_cards, signed_submit
from bench.run import CONCURRENCY, Run, times

WARMUP = 64


def _requests(run: Run, phase: str, n: int) -> list[Signed]:
    secret = run.host.secret
    return [
        signed_submit(secret, t, [(f"m{i % 100}", "cn")]) for i, t in enumerate(run.ids(phase, n))
    ]


async def _measure(run: Run, urls: list[str], phase: str) -> dict[str, Any]:
    await closed_loop(run.session, urls, _requests(run, phase + "w", WARMUP), CONCURRENCY)
    result = await closed_loop(
        run.session, urls, _requests(run, phase, run.sizes.intake), CONCURRENCY
    )
    summary: dict[str, Any] = result.summary()
    summary["statuses"] = {str(k): v for k, v in result.statuses.items()}
    return summary


async def drain_memory(run: Run, expected: int, within: float) -> bool:
    """Wait until the memory channels hold ``expected`` cards (the outbox caught up)."""
    deadline = time.perf_counter() + within
    while sum([await memory_cards(h) for h in run.fleet.hosts]) < expected:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def intake(run: Run, label: str) -> dict[str, Any]:
    """One intake measurement (bare endpoint first, then the gateway) and its rows."""
    bare = await _measure(run, [run.bare_url], f"bare{label}")
    before = [await memory_cards(h) for h in run.fleet.hosts]
    gateway = await _measure(run, [h.url for h in run.fleet.hosts], f"in{label}")
    drained = await drain_memory(run, sum(before) + WARMUP + run.sizes.intake, run.sizes.drain * 3)
    section = f"intake, c={CONCURRENCY}" + (f", {label} pending" if label else "")
    run.add(
        section,
        "signed submits/s",
        f"{gateway['rps']:.0f}/s",
        f"{bare['rps']:.0f}/s bare endpoint",
        times(gateway["rps"], bare["rps"]),
        "≥ 0.5x",
    )
    run.add(
        section,
        "latency p50 / p99",
        f"{gateway['p50_ms']:.1f} / {gateway['p99_ms']:.1f} ms",
        f"{bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} ms",
        times(gateway["p99_ms"], bare["p99_ms"]) + " (p99)",
        "p99 ≤ 50 ms",
    )
    if gateway["failed"]:
        run.add(section, "non-202 answers", str(gateway["statuses"]), "", "", "0")
    result = {"gateway": gateway, "bare": bare, "cards_drained": drained}
    run.raw[f"intake{label}"] = result
    return result
