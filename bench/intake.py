"""Intake: signed ``POST /v1/approvals`` at concurrency 64, against the bare endpoints.

Every target gets the same number of freshly signed submissions from the same client session:
the bare endpoint that checks what intake must check at the standard library's cost (the
yardstick), the bare endpoint with the RFC 9421 library's verifier, then the gateway. The
approvers are bound nowhere, so their cards go to the memory channel and the outbox worker's
share of the work costs no platform call (the platform phases measure that).

Beside each rate: the CPU seconds per accepted request of the processes that served it (the
gateway's, and on PostgreSQL its server backends' too), a figure that does not depend on how
many cores the machine has. The gateway's CPU includes its outbox worker sending the cards of
the measured submissions while they arrive (what is still queued at the end is not counted).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import cpu
from bench.load import Signed, closed_loop, memory_cards, signed_submit
from bench.run import CONCURRENCY, Run, times

WARMUP = 64


def _requests(run: Run, phase: str, n: int) -> list[Signed]:
    secret = run.host.secret
    return [
        signed_submit(secret, t, [(f"m{i % 100}", "cn")]) for i, t in enumerate(run.ids(phase, n))
    ]


async def _measure(
    run: Run, urls: list[str], phase: str, pids: list[int], database: bool = False
) -> dict[str, Any]:
    """One closed loop after a warm-up; with the CPU seconds ``pids`` (and, with ``database``,
    the run's PostgreSQL backends) spent on it."""
    await closed_loop(run.session, urls, _requests(run, phase + "w", WARMUP), CONCURRENCY)
    url = run.database_url if database else None
    backends = await cpu.backends(url) if url else []
    before = cpu.snapshot(pids)
    before_db = cpu.snapshot(backends)
    result = await closed_loop(
        run.session, urls, _requests(run, phase, run.sizes.intake), CONCURRENCY
    )
    spent = cpu.spent(before, cpu.snapshot(pids))
    if url:  # sessions opened meanwhile count from 0
        backends = await cpu.backends(url)
    spent_db = cpu.spent(before_db, cpu.snapshot(backends)) if backends else 0.0
    summary: dict[str, Any] = result.summary()
    summary["statuses"] = {str(k): v for k, v in result.statuses.items()}
    ok = max(1, result.ok)
    summary["cpu_ms_per_request"] = spent / ok * 1000
    summary["db_cpu_ms_per_request"] = spent_db / ok * 1000
    return summary


async def drain_memory(run: Run, expected: int, within: float) -> bool:
    """Wait until the memory channels hold ``expected`` cards (the outbox caught up)."""
    deadline = time.perf_counter() + within
    while sum([await memory_cards(h) for h in run.fleet.hosts]) < expected:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def _cpu(summary: dict[str, Any]) -> str:
    text = f"{summary['cpu_ms_per_request']:.2f} ms CPU/req"
    if summary.get("db_cpu_ms_per_request"):
        text += f" + {summary['db_cpu_ms_per_request']:.2f} ms PostgreSQL"
    return text


async def intake(run: Run, label: str) -> dict[str, Any]:
    """One intake measurement (bare endpoints first, then the gateway) and its rows."""
    bare = await _measure(run, [run.bare_url], f"bare{label}", [run.bare_pid])
    library = await _measure(run, [run.bare_library_url], f"lib{label}", [run.bare_pid])
    before = [await memory_cards(h) for h in run.fleet.hosts]
    hosts = [h.url for h in run.fleet.hosts]
    gateway = await _measure(run, hosts, f"in{label}", run.host_pids, database=True)
    drained = await drain_memory(run, sum(before) + WARMUP + run.sizes.intake, run.sizes.drain * 3)
    section = f"intake, c={CONCURRENCY}" + (f", {label} pending" if label else "")
    _rows(run, section, gateway, bare, library)
    result = {"gateway": gateway, "bare": bare, "bare_library": library, "cards_drained": drained}
    run.raw[f"intake{label}"] = result
    return result


def _rows(
    run: Run, section: str, gateway: dict[str, Any], bare: dict[str, Any], library: dict[str, Any]
) -> None:
    run.add(
        section,
        "signed submits/s; CPU per accepted request",
        f"{gateway['rps']:.0f}/s; {_cpu(gateway)}",
        f"{bare['rps']:.0f}/s; {_cpu(bare)} bare endpoint, stdlib verifier",
        times(gateway["rps"], bare["rps"])
        + "; "
        + times(
            gateway["cpu_ms_per_request"] + gateway["db_cpu_ms_per_request"],
            bare["cpu_ms_per_request"],
        )
        + " CPU",
        "≥ 0.5x",
    )
    run.add(
        section,
        "baseline with the library verifier: submits/s; CPU per request",
        f"{library['rps']:.0f}/s; {_cpu(library)}",
        f"{bare['rps']:.0f}/s; {_cpu(bare)} stdlib verifier",
        times(library["rps"], bare["rps"])
        + "; "
        + times(library["cpu_ms_per_request"], bare["cpu_ms_per_request"])
        + " CPU",
        "",
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
    if bare["failed"] or library["failed"]:
        statuses = f"stdlib {bare['statuses']}, library {library['statuses']}"
        run.add(section, "baseline non-202 answers", statuses, "", "", "0")
