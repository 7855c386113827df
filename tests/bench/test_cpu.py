"""The intake rows' CPU arithmetic: per accepted request, and against the lean endpoint."""

from __future__ import annotations

import math
import os

import pytest

from bench import cpu
from bench.intake import cpu_ratio


def test_a_process_started_between_snapshots_counts_from_zero() -> None:
    before = {1: 2.0, 2: 5.0}
    after = {1: 2.5, 2: 5.25, 3: 0.75}
    assert cpu.spent(before, after) == pytest.approx(1.5)


def test_a_process_gone_by_the_second_snapshot_adds_nothing() -> None:
    assert cpu.spent({1: 2.0, 2: 5.0}, {1: 3.0}) == pytest.approx(1.0)


def test_a_counter_that_went_backwards_adds_nothing() -> None:
    # a reused pid: a new process whose counter is below the old one's
    assert cpu.spent({7: 9.0}, {7: 1.0}) == 0.0


def test_per_request_is_milliseconds_over_the_accepted_requests() -> None:
    assert cpu.per_request_ms(0.4, 200) == pytest.approx(2.0)


def test_per_request_with_nothing_accepted_divides_by_one() -> None:
    assert cpu.per_request_ms(0.4, 0) == pytest.approx(400.0)


def gateway(window: float, window_db: float, whole: float, whole_db: float) -> dict[str, float]:
    return {
        "cpu_ms_per_request": window,
        "db_cpu_ms_per_request": window_db,
        "whole_cpu_ms_per_request": whole,
        "whole_db_cpu_ms_per_request": whole_db,
    }


def test_the_ratio_adds_the_servers_cpu_to_the_gateways() -> None:
    bare = {"cpu_ms_per_request": 0.25}
    measured = gateway(1.0, 0.5, 2.0, 1.0)
    assert cpu_ratio(measured, bare) == pytest.approx(6.0)
    assert cpu_ratio(measured, bare, whole=True) == pytest.approx(12.0)


def test_a_baseline_that_spent_nothing_gives_no_ratio() -> None:
    assert math.isnan(cpu_ratio(gateway(1.0, 0.0, 2.0, 0.0), {"cpu_ms_per_request": 0.0}))


async def test_a_meter_without_a_database_reads_only_its_processes() -> None:
    meter = cpu.Meter([os.getpid()])
    await meter.start()
    sum(i * i for i in range(100_000))
    here, server = await meter.read()
    assert here >= 0.0
    assert server == 0.0
