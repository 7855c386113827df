"""``scripts/bench [--quick] [--only PHASES] [--database-url URL] [--replicas N]
[--taps RATE:SECONDS] [--backlog-taps RATE:SECONDS:QUEUED] [--matrix]``: the load driver.

It starts the sandbox platforms every gateway shares (``bench.platforms``), the gateway
process(es) (``bench.host``) and the bare baseline (``bench.bare``) on loopback, drives every
phase from this process, and writes the table and the JSON to ``bench-results/``, printing the
table. ``--matrix`` runs SQLite ×1, PostgreSQL ×1 and ×3 one after the other (``bench.matrix``).
``--only e2e`` (or any comma-separated names of :data:`PHASES`) runs just those phases, beside
the loopback round trip that every latency row is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import (
    e2e,
    footprint,
    growth,
    intake,
    matrix,
    pgdb,
    procs,
    rates,
    redraws,
    report,
    taps,
)
from bench.fleet import Fleet
from bench.load import Host
from bench.run import (
    DINGTALK_QPS,
    FULL,
    LARK_APP_PER_MINUTE,
    LARK_APP_QPS,
    LARK_USER_QPS,
    QUICK,
    Run,
    times,
)
from tests.faults.harness import authorize, backend_secret, prepare
from tests.replicas.cluster import master_key

CHANNELS = ("lark", "dingtalk", "email")  # the real channels an admin authorizes once
PHASES = (
    "baselines",
    "worker",
    "intake",
    "bursts",
    "e2e",
    "taps",
    "redraws",
    "growth",
)  # in the order they run


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--database-url", help="run on this database (postgresql://...)")
    parser.add_argument("--replicas", type=int, default=1, help="gateway processes on one database")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="SQLite x1, PostgreSQL x1 and x3 one after the other, one table side by side "
        "(PostgreSQL at --database-url, default $APPROVAL_GATEWAY_TEST_DATABASE_URL or loopback)",
    )
    parser.add_argument(
        "--taps",
        type=_rate_for,
        metavar="RATE:SECONDS",
        help="the taps phase's offered taps/s and seconds on a quiet outbox; default: the size's",
    )
    parser.add_argument(
        "--backlog-taps",
        type=_backlog_for,
        metavar="RATE:SECONDS:QUEUED",
        help="the taps phase's row behind a send backlog: taps/s, seconds, requests queued "
        "behind Lark's limit just before; default: the size's",
    )
    parser.add_argument(
        "--only",
        type=_phase_list,
        default=PHASES,
        metavar="PHASES",
        help=f"comma-separated phases to run, of {','.join(PHASES)} (default: all); "
        "the loopback baseline always runs",
    )
    return parser.parse_args(argv)


def _phase_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in PHASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown phase {', '.join(unknown) or '(none)'}: choose from {','.join(PHASES)}"
        )
    return tuple(name for name in PHASES if name in names)  # run order, whatever the order given


def _rate_for(text: str) -> tuple[float, float]:
    rate, _, seconds = text.partition(":")
    try:
        return float(rate), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not RATE:SECONDS: {text!r}") from None


def _backlog_for(text: str) -> tuple[float, float, int]:
    rate, seconds, queued = [*text.split(":"), "", ""][:3]
    try:
        return float(rate), float(seconds), int(queued)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not RATE:SECONDS:QUEUED: {text!r}") from None


def engine_available() -> bool:
    """Whether this checkout's gateway takes a database URL (the PostgreSQL engine)."""
    from bot.settings.config import Settings

    return "database_url" in Settings.model_fields


STARTED = time.perf_counter()


def _say(text: str) -> None:
    print(f"==> [{time.perf_counter() - STARTED:5.1f} s] {text}", flush=True)


async def phases(run: Run, notes: list[str], only: tuple[str, ...] = PHASES) -> None:
    """The phases in ``only``, in an order where each starts from a quiet gateway."""
    sizes = run.sizes
    _say("baseline: loopback round trip")
    await footprint.loopback(run)
    if "baselines" in only:
        _say("baselines: idle RSS, /metrics, CLI start-up")
        await footprint.idle_rss(run)
        await footprint.metrics_scrape(run, "")
        await footprint.cli_startup(run)
    await run.fleet.seat("lark", [*rates.burst_accounts(sizes.burst_users), *e2e.e2e_accounts()])
    await run.fleet.limits(LARK_APP_QPS, LARK_USER_QPS, DINGTALK_QPS, LARK_APP_PER_MINUTE)
    if "worker" in only:
        _say("worker: accepted → card one at a time")
        await e2e.worker_latency(run, "")
    if "intake" in only:
        _say(f"intake: {sizes.intake} signed submits at concurrency 64, gateway and bare endpoint")
        await intake.intake(run, "")
    if "bursts" in only:
        await _bursts(run, notes)
    if "e2e" in only:
        for rate, seconds in sizes.rates:
            await _quiet(run, notes)
            _say(f"end to end at {rate:g} requests/s for {seconds:g} s")
            await e2e.one_rate(run, rate, seconds)
        if len(run.fleet.hosts) > 1:
            await footprint.clicks_per_replica(run)
    if "taps" in only:
        await _quiet(run, notes)
        rate, seconds = sizes.taps
        fast, _, queued = sizes.backlog_taps
        _say(f"taps at {rate:g}/s on delivered cards, then at {fast:g}/s behind {queued} queued")
        await taps.taps(run)
    if "redraws" in only:
        await _quiet(run, notes)
        n, seconds = sizes.redraws
        _say(f"redraw storm: {n} requests to 3 approvers, decided over {seconds:g} s")
        await redraws.redraws(run)
    if "growth" in only:
        await _quiet(run, notes)
        await _growth(run, notes)


async def _bursts(run: Run, notes: list[str]) -> None:
    for skewed in (False, True):
        await _quiet(run, notes)
        _say(f"Lark burst of {run.sizes.burst_cards} cards" + (" (skewed)" if skewed else ""))
        await rates.burst(run, skewed)
    await _quiet(run, notes)
    _say(f"DingTalk burst of {run.sizes.dingtalk_cards} cards")
    await rates.dingtalk_burst(run)


async def _quiet(run: Run, notes: list[str]) -> None:
    """Let the backlog of the phase before drain, so each phase starts from an empty outbox."""
    waited = await footprint.quiet(run, run.sizes.drain * 2)
    if math.isnan(waited):
        notes.append(
            f"a phase started with the previous phase's backlog still in the outbox "
            f"(waited {run.sizes.drain * 2:g} s)"
        )
    elif waited > 1:
        _say(f"waited {waited:.0f} s for the outbox to drain")


async def _growth(run: Run, notes: list[str]) -> None:
    """Each figure at 0 pending measured now, then again after seeding (and, on PostgreSQL,
    the ANALYZE autovacuum would run after such a load) and a drained outbox."""
    pending = run.sizes.pending
    _say("growth: the figures at 0 pending, measured now")
    await _moment(run, "0", notes)
    _say(f"growth: seeding {pending:,} pending requests")
    seeded = await growth.seed(run, pending)
    notes.append(
        f"growth: {pending:,} pending requests seeded in {seeded['seconds']:.1f} s ({seeded['rows']})"
    )
    if run.database_url:
        took = await growth.analyze(run.database_url)
        notes.append(
            f"growth: ANALYZE after seeding ({took:.1f} s), as autovacuum would after such a "
            "load; SQLite runs none (the gateway never analyses it)"
        )
    await _quiet(run, notes)
    label = f"{pending // 1000}k"
    await _moment(run, label, notes)
    _compare(run, label)


async def _moment(run: Run, label: str, notes: list[str]) -> None:
    """Intake, then (on a drained outbox) one-at-a-time latency and the scrape, at ``label``."""
    measured = await intake.intake(run, label)
    if not measured["cards_drained"]:
        notes.append(f"growth at {label}: the intake's cards had not all been sent after it")
    await _quiet(run, notes)
    await e2e.worker_latency(run, label)
    await footprint.metrics_scrape(run, label)


def _compare(run: Run, label: str) -> None:
    """The growth rows: each figure at ``label`` pending against the same figure at 0,
    measured in this phase (the same moment's machine load)."""
    raw = run.raw
    at0, at_n = raw["intake0"]["gateway"], raw[f"intake{label}"]["gateway"]
    pairs = [
        ("intake submits/s", at0["rps"], at_n["rps"], "/s", "within 20 %"),
        (
            "intake CPU per request, whole until the outbox drained (gateway + PostgreSQL)",
            at0["whole_cpu_ms_per_request"] + at0["whole_db_cpu_ms_per_request"],
            at_n["whole_cpu_ms_per_request"] + at_n["whole_db_cpu_ms_per_request"],
            " ms",
            "within 20 %",
        ),
        (
            "accepted → card p50 (worker claim and send)",
            raw["worker_ms0"]["p50"],
            raw[f"worker_ms{label}"]["p50"],
            " ms",
            "within 20 %, 0 censored",
        ),
        (
            "/metrics scrape p50",
            raw["metrics_ms0"]["p50"],
            raw[f"metrics_ms{label}"]["p50"],
            " ms",
            "independent of table sizes",
        ),
    ]
    for measure, zero, at, unit, target in pairs:
        run.add(
            f"growth, {label} pending vs 0",
            measure,
            f"{at:.2f}{unit}",
            f"{zero:.2f}{unit} at 0 pending",
            times(at, zero),
            target,
        )
    censored = raw[f"worker_ms{label}"]["censored"], raw["worker_ms0"]["censored"]
    run.add(
        f"growth, {label} pending vs 0",
        f"one-at-a-time samples censored (no card within {e2e.WORKER_WAIT:g} s)",
        str(censored[0]),
        f"{censored[1]} at 0 pending",
        "",
        "0",
    )


async def main(args: argparse.Namespace) -> int:
    """Start the processes, run the phases, write and print the report."""
    notes: list[str] = []
    database_url = args.database_url
    engine = "sqlite"
    if database_url:
        if engine_available():
            engine = "postgresql"
        else:
            print(
                "the PostgreSQL engine is unavailable in this checkout: running on SQLite; "
                "the PostgreSQL rows are skipped",
                flush=True,
            )
            notes.append("PostgreSQL requested but the engine is unavailable: SQLite only")
            database_url = None
    sizes = QUICK if args.quick else FULL
    if args.taps:
        sizes = dataclasses.replace(sizes, taps=args.taps)
    if args.backlog_taps:
        sizes = dataclasses.replace(sizes, backlog_taps=args.backlog_taps)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        # One log directory per configuration: a --matrix run keeps every run's logs.
        logs = report.RESULTS / "logs" / f"{engine}-x{args.replicas}"
        logs.mkdir(parents=True, exist_ok=True)
        async with contextlib.AsyncExitStack() as stack:
            if database_url is not None:
                database_url = await stack.enter_async_context(pgdb.own_database(database_url))
                _say(f"PostgreSQL database of this run: {database_url.rsplit('/', 1)[1]}")
            connector = aiohttp.TCPConnector(limit=0)
            session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            fleet, pids = await _start(args.replicas, data_dir, database_url, session, stack, logs)
            secret = fleet.platforms.secret
            bare = await procs.start(
                "bench.bare", {**procs.clean_env(), "BENCH_SECRET": secret}, logs / "bare.log"
            )
            stack.push_async_callback(bare.stop)
            run = Run(
                fleet=fleet,
                bare_url=str(bare.info["url"]),
                bare_library_url=str(bare.info["library_url"]),
                session=session,
                sizes=sizes,
                data_dir=data_dir,
                engine=engine,
                database_url=database_url,
                host_pids=pids,
                bare_pid=bare.process.pid,
            )
            load_before = os.getloadavg()[0]
            status = 0
            try:
                await phases(run, notes, args.only)
            except Exception as exc:  # report what was measured, and why the rest is missing
                notes.append(f"INCOMPLETE: the run stopped at {exc!r}")
                status = 1
            load_after = os.getloadavg()[0]
        notes.append(
            f"load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end: "
            "other work on the machine moves absolute figures; the same-run ratios less so"
        )
        header: dict[str, Any] = {
            "mode": "quick" if args.quick else "full",
            "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "engine": engine,
            "replicas": args.replicas,
            "phases": list(args.only),
            "machine": report.machine(),
            "notes": notes,
        }
        path, text = report.write(run.rows, run.raw, header)
    print()
    print(text)
    print(f"written: {path} and {path.with_suffix('.json')}")
    return status


async def _start(
    replicas: int,
    data_dir: Path,
    database_url: str | None,
    session: aiohttp.ClientSession,
    stack: contextlib.AsyncExitStack,
    logs: Path,
) -> tuple[Fleet, list[int]]:
    """The platforms process, then the gateways on it: the first migrates the database and
    takes the admin's consent to the real channels, the others start on what it stored."""
    secret = backend_secret(data_dir)  # generated into the data directory, as a first start does
    _say(f"starting the sandbox platforms and {replicas} gateway process(es)")
    platforms = await procs.start(
        "bench.platforms", {**procs.clean_env(), "BENCH_SECRET": secret}, logs / "platforms.log"
    )
    stack.push_async_callback(platforms.stop)
    env = procs.gateway_env(data_dir, database_url, platforms.info["env"])
    env["APPROVAL_GATEWAY_MASTER_KEY"] = master_key()  # every replica opens the same secrets
    token = await prepare(data_dir, env, [])
    hosts: list[procs.Proc] = []
    for i in range(replicas):
        proc = await procs.start("bench.host", env, logs / f"gateway-{i}.log")
        stack.push_async_callback(proc.stop)
        hosts.append(proc)
        if i == 0:
            for channel in CHANNELS:
                await authorize(str(proc.info["gateway"]), token, channel)
    first = str(hosts[0].info["gateway"])
    fleet = Fleet(
        [Host(session, {**h.info, "secret": secret}) for h in hosts],
        Host(session, {**platforms.info, "gateway": first, "secret": secret}),
        token,
    )
    return fleet, [h.process.pid for h in hosts]


def entry(argv: list[str]) -> int:
    """``--matrix`` runs the configurations as child runs; otherwise one run here."""
    args = parse(argv)
    if args.matrix:
        return matrix.main(args.quick, args.database_url, args.only)
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
