"""What every phase shares: the run's sizes, its processes, and the rows it reports."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.fleet import Fleet
from bench.load import Host, percentile


@dataclass(frozen=True)
class Sizes:
    """How much load each phase offers (``--quick`` or the full run)."""

    intake: int  # submissions per intake measurement, at CONCURRENCY
    burst_cards: int
    burst_users: int
    dingtalk_cards: int
    rates: tuple[tuple[float, float], ...]  # (offered requests/s, seconds)
    taps: tuple[float, float]  # (offered taps/s on delivered cards, seconds): quiet outbox
    backlog_taps: tuple[float, float, int]  # (taps/s, seconds, requests queued behind Lark)
    drain: float  # how long after the load a phase waits for what is still queued
    pending: int  # seeded pending requests for the growth phase
    samples: int  # sequential samples for latency and scrape measurements
    cli_runs: int
    redraws: tuple[int, float]  # (decisions, over seconds) of the redraw storm


QUICK = Sizes(
    intake=200,
    burst_cards=60,
    burst_users=20,
    dingtalk_cards=40,
    rates=((5, 2),),
    taps=(50, 2),
    backlog_taps=(200, 1.5, 300),
    drain=10,
    pending=10_000,
    samples=8,
    cli_runs=1,
    redraws=(300, 6),
)
FULL = Sizes(
    intake=3000,
    burst_cards=2000,
    burst_users=100,
    dingtalk_cards=600,
    rates=((5, 10), (50, 6), (200, 3)),
    taps=(50, 5),
    backlog_taps=(200, 5, 1000),
    drain=30,
    pending=100_000,
    samples=30,
    cli_runs=5,
    redraws=(600, 12),
)
CONCURRENCY = 64
LARK_APP_QPS = 50  # what the sandbox Lark enforces: the real platform's limits
LARK_APP_PER_MINUTE = 1000  # ... per API, in any 60 s as well
LARK_USER_QPS = 5
LARK_MESSAGE_QPS = 5  # updates of one message a second
DINGTALK_QPS = 20  # DingTalk's documented per-API limit


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure beside its same-run baseline."""

    section: str
    measure: str
    value: str
    baseline: str
    ratio: str
    target: str


@dataclass
class Run:
    """One benchmark run: its processes, sizes, and what it measured so far."""

    fleet: Fleet
    bare_url: str
    session: aiohttp.ClientSession
    sizes: Sizes
    data_dir: Path
    engine: str  # "sqlite" or "postgresql"
    database_url: str | None  # None: the SQLite file in data_dir
    host_pids: list[int]
    bare_pid: int
    bare_library_url: str = ""  # the bare endpoint with the gateway's verifier library
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    loopback: list[float] = field(default_factory=list)  # seconds per /ping round trip
    # Each tap leaves one card update due 30 s later (the gateway's check that the clicker's
    # card was redrawn): not backlog, so a quiet outbox may still hold this many.
    taps_last_phase: int = 0

    @property
    def host(self) -> Host:
        """The first host (single-host phases, and the CLI's database)."""
        return self.fleet.hosts[0]

    def ids(self, phase: str, n: int) -> list[str]:
        """``n`` ticket ids unique to this run and phase."""
        return [f"{phase}-{self.tag}-{i}" for i in range(n)]

    def add(
        self, section: str, measure: str, value: str, baseline: str, ratio: str, target: str = ""
    ) -> None:
        """Append a row."""
        self.rows.append(Row(section, measure, value, baseline, ratio, target))

    def loopback_ms(self, q: float) -> float:
        """The loopback round trip's ``q`` quantile in ms."""
        return percentile(self.loopback, q) * 1000


def ms(value: float) -> str:
    """Milliseconds, readable at any size."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "censored"  # a sample that never completed, beyond any finite one
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def times(value: float, base: float) -> str:
    """``value / base`` as ``0.12x``."""
    if base == 0 or math.isnan(value) or math.isnan(base):
        return "n/a"
    return f"{value / base:.2f}x"
