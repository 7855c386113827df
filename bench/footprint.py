"""Footprint: idle RSS, ``/metrics`` scrape time, and CLI start-up, each beside a baseline."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from bench.load import percentile
from bench.procs import gateway_env, rss_mb
from bench.run import Run, ms, times

DEPTH = "gateway_outbox_depth"


async def loopback(run: Run) -> None:
    """The loopback round trip (an empty GET on the bare endpoint), the latency baseline."""
    for _ in range(max(run.sizes.samples * 10, 100)):
        t0 = time.perf_counter()
        async with run.session.get(run.bare_url + "/ping") as r:
            await r.read()
        run.loopback.append(time.perf_counter() - t0)
    run.raw["loopback_ms"] = {"p50": run.loopback_ms(0.5), "p99": run.loopback_ms(0.99)}


async def idle_rss(run: Run) -> None:
    """RSS of the idle gateway (every channel running) against the bare endpoint's process."""
    await asyncio.sleep(2)  # let the stream connections settle
    gateway = max(rss_mb(pid) for pid in run.host_pids)
    bare = rss_mb(run.bare_pid)
    run.raw["rss_mb"] = {"gateway_idle": gateway, "bare": bare}
    run.add(
        "footprint",
        "RSS idle, every channel running",
        f"{gateway:.0f} MB",
        f"{bare:.0f} MB bare aiohttp+pydantic",
        times(gateway, bare),
        "≤ 150 MB",
    )


async def metrics_scrape(run: Run, label: str) -> None:
    """``GET /metrics`` time (median of sequential scrapes) against the loopback round trip."""
    samples = []
    for _ in range(run.sizes.samples):
        t0 = time.perf_counter()
        async with run.session.get(run.host.url + "/metrics") as r:
            await r.read()
        samples.append(time.perf_counter() - t0)
    p50 = percentile(samples, 0.5) * 1000
    run.raw[f"metrics_ms{label}"] = {"p50": p50, "p99": percentile(samples, 0.99) * 1000}
    run.add(
        "footprint",
        f"/metrics scrape at {label or '0'} pending",
        ms(p50),
        ms(run.loopback_ms(0.5)) + " loopback",
        times(p50, run.loopback_ms(0.5)),
        "independent of table sizes",
    )


async def outbox_depth(run: Run) -> float | None:
    """Outbox jobs waiting, from the gateway's own ``/metrics`` (None if it does not say)."""
    async with run.session.get(run.host.url + "/metrics") as r:
        text = await r.text()
    lines = [line for line in text.splitlines() if line.startswith(DEPTH + "{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines) if lines else None


async def quiet(run: Run, within: float) -> float:
    """Wait until the outbox holds no more than the last phase's taps left due later (or
    ``within`` s); the seconds waited (NaN: gave up)."""
    t0 = time.perf_counter()
    while True:
        depth = await outbox_depth(run)
        if depth is None or depth <= run.taps_last_phase:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > within:
            return float("nan")
        await asyncio.sleep(0.5)


async def _wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of running ``argv`` to completion."""
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode()[-300:]}")
    return statistics.median(walls)


async def cli_startup(run: Run) -> None:
    """CLI commands that need no platform, against ``python -c pass``."""
    exe = str(Path(sys.executable).parent / "approval-gateway")
    env = gateway_env(run.data_dir, run.database_url)  # the gateway's own database
    # As installed (the image compiles its bytecode at build): a developer's
    # PYTHONDONTWRITEBYTECODE would make every run compile the gateway's modules again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = run.sizes.cli_runs
    base = await _wall([sys.executable, "-c", "pass"], env, runs + 1)
    commands = {
        "--help": [exe, "--help"],
        "cards render": [exe, "cards", "render", "--channel", "lark"],
        "tokens list": [exe, "tokens", "list"],
    }
    found = {}
    for name, argv in commands.items():
        await _wall(argv, env, 1)  # writes the bytecode cache and warms the page cache
        found[name] = await _wall(argv, env, runs)
        run.add(
            "CLI start-up",
            f"approval-gateway {name}",
            f"{found[name]:.2f} s",
            f"{base:.3f} s python -c pass",
            times(found[name], base),
            "< 0.3 s",
        )
    run.raw["cli_s"] = {"python -c pass": base, **found}


CLICKS = "gateway_clicks_total"


async def clicks_per_replica(run: Run) -> None:
    """With several replicas: the clicks each one answered over its own streams (each
    replica's own ``gateway_clicks_total``), i.e. the platforms spread them over all."""
    counts = []
    for host in run.fleet.hosts:
        async with run.session.get(host.url + "/metrics") as r:
            text = await r.text()
        counts.append(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith(CLICKS + "{")
            )
        )
    run.raw["clicks_per_replica"] = counts
    run.add(
        "replicas",
        "clicks answered by each replica (its own stream connections)",
        " / ".join(f"{c:.0f}" for c in counts),
        f"{sum(counts):.0f} clicks over {len(counts)} replicas",
        "",
        "every replica answers clicks",
    )
