"""Intake: signed ``POST /v1/approvals`` at concurrency 64, against the bare endpoints.

Every target gets the same number of freshly signed submissions from the same client session:
the bare endpoint that checks what intake must check at the standard library's cost (the
yardstick), the bare endpoint with the RFC 9421 library's verifier, then the gateway. The
approvers are bound nowhere, so their cards go to the memory channel and the outbox worker's
share of the work costs no platform call (the platform phases measure that).

Beside each rate, two CPU figures per accepted request of the processes that served it (the
gateway's, and on PostgreSQL its server backends' too), figures that do not depend on how many
cores the machine has. The window figure counts the timed submit window only: the outbox worker
sends the measured submissions' cards while they arrive, but whatever is still queued when the
last answer arrives is not counted, and CPU freed on the submit path goes into sending more
cards inside the window. The whole figure counts from the first measured submit until the
outbox has drained (every card of the measured submissions sent, no job left), so each
request's card work is counted once, whole. The warm-up's cards are sent before either starts.
The lean endpoint has no outbox: its whole figure is its window figure, the baseline of both.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench import cpu, footprint
from bench.load import Closed, Signed, closed_loop, memory_cards, signed_submit
from bench.run import CONCURRENCY, Run, times

WARMUP = 64


def _requests(run: Run, phase: str, n: int) -> list[Signed]:
    secret = run.host.secret
    return [
        signed_submit(secret, t, [(f"m{i % 100}", "cn")]) for i, t in enumerate(run.ids(phase, n))
    ]


async def _measure(run: Run, urls: list[str], phase: str, pids: list[int]) -> dict[str, Any]:
    """One closed loop after a warm-up, with the CPU seconds ``pids`` spent in its window."""
    await closed_loop(run.session, urls, _requests(run, phase + "w", WARMUP), CONCURRENCY)
    meter = cpu.Meter(pids)
    await meter.start()
    result = await closed_loop(
        run.session, urls, _requests(run, phase, run.sizes.intake), CONCURRENCY
    )
    spent, _ = await meter.read()
    return _summary(result, spent, 0.0)


async def _measure_gateway(run: Run, phase: str) -> dict[str, Any]:
    """The gateway's closed loop after a warm-up whose cards are sent first; its CPU (and its
    PostgreSQL backends') in the submit window, then again once the outbox has drained."""
    urls = [h.url for h in run.fleet.hosts]
    cards = sum([await memory_cards(h) for h in run.fleet.hosts])
    warm = await closed_loop(run.session, urls, _requests(run, phase + "w", WARMUP), CONCURRENCY)
    await drain(run, cards + warm.ok, run.sizes.drain * 3)  # the warm-up's cards: not measured
    cards = sum([await memory_cards(h) for h in run.fleet.hosts])
    meter = cpu.Meter(run.host_pids, run.database_url)
    await meter.start()
    result = await closed_loop(
        run.session, urls, _requests(run, phase, run.sizes.intake), CONCURRENCY
    )
    window_end = time.perf_counter()
    summary = _summary(result, *await meter.read())
    drained = await drain(run, cards + result.ok, run.sizes.drain * 3)
    gateway, server = await meter.read()
    summary.update(
        whole_cpu_ms_per_request=cpu.per_request_ms(gateway, result.ok),
        whole_db_cpu_ms_per_request=cpu.per_request_ms(server, result.ok),
        drained_after_s=time.perf_counter() - window_end,
        cards_drained=drained,
    )
    return summary


def _summary(result: Closed, spent: float, spent_db: float) -> dict[str, Any]:
    summary: dict[str, Any] = result.summary()
    summary["statuses"] = {str(k): v for k, v in result.statuses.items()}
    summary["cpu_ms_per_request"] = cpu.per_request_ms(spent, result.ok)
    summary["db_cpu_ms_per_request"] = cpu.per_request_ms(spent_db, result.ok)
    return summary


async def drain(run: Run, expected: int, within: float) -> bool:
    """Wait until the memory channels hold ``expected`` cards and the outbox holds no job but
    the ones the last taps left due later (its sends done and recorded)."""
    deadline = time.perf_counter() + within
    while sum([await memory_cards(h) for h in run.fleet.hosts]) < expected:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    while (depth := await footprint.outbox_depth(run)) is not None and depth > run.taps_last_phase:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _cpu(summary: dict[str, Any], whole: bool = False) -> str:
    prefix = "whole_" if whole else ""
    text = f"{summary[prefix + 'cpu_ms_per_request']:.2f} ms CPU/req"
    if summary.get(prefix + "db_cpu_ms_per_request"):
        text += f" + {summary[prefix + 'db_cpu_ms_per_request']:.2f} ms PostgreSQL"
    return text


def cpu_ratio(gateway: dict[str, Any], bare: dict[str, Any], whole: bool = False) -> float:
    """The gateway's CPU per accepted request (its PostgreSQL backends' included) against the
    lean endpoint's: the window figure, or (``whole``) the one counted until the outbox drained."""
    prefix = "whole_" if whole else ""
    spent = gateway[prefix + "cpu_ms_per_request"] + gateway[prefix + "db_cpu_ms_per_request"]
    base = bare["cpu_ms_per_request"]
    return spent / base if base else math.nan


async def intake(run: Run, label: str) -> dict[str, Any]:
    """One intake measurement (bare endpoints first, then the gateway) and its rows."""
    bare = await _measure(run, [run.bare_url], f"bare{label}", [run.bare_pid])
    library = await _measure(run, [run.bare_library_url], f"lib{label}", [run.bare_pid])
    gateway = await _measure_gateway(run, f"in{label}")
    section = f"intake, c={CONCURRENCY}" + (f", {label} pending" if label else "")
    _rows(run, section, gateway, bare, library)
    result = {
        "gateway": gateway,
        "bare": bare,
        "bare_library": library,
        "cards_drained": gateway["cards_drained"],
    }
    run.raw[f"intake{label}"] = result
    return result


def _rows(
    run: Run, section: str, gateway: dict[str, Any], bare: dict[str, Any], library: dict[str, Any]
) -> None:
    run.add(
        section,
        "signed submits/s; CPU per accepted request in the submit window",
        f"{gateway['rps']:.0f}/s; {_cpu(gateway)}",
        f"{bare['rps']:.0f}/s; {_cpu(bare)} bare endpoint, stdlib verifier",
        times(gateway["rps"], bare["rps"]) + f"; {cpu_ratio(gateway, bare):.2f}x CPU",
        "≥ 0.25x on SQLite, ≥ 0.12x on PostgreSQL ×1",
    )
    drained = (
        f"; outbox drained {gateway['drained_after_s']:.1f} s after the window"
        if gateway["cards_drained"]
        else f"; outbox NOT drained within {run.sizes.drain * 3:g} s (CPU counted until then)"
    )
    run.add(
        section,
        "CPU per accepted request, whole (first submit until the outbox drained, cards sent)",
        _cpu(gateway, whole=True) + drained,
        f"{_cpu(bare)} bare endpoint (no outbox: whole = window)",
        f"{cpu_ratio(gateway, bare, whole=True):.2f}x CPU",
        "≤ 4x on SQLite, ≤ 10x on PostgreSQL (gateway + server)",
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
