"""A stop that cannot finish still ends the process, and the log says what was stuck.

``approval-gateway serve`` runs as its own process with the memory channel's ``stop`` made to
hang (``tests.faults.stuck_serve``): once by swallowing every cancellation, once by blocking the
event loop. SIGTERM must still end the process past ``OUTBOX__SHUTDOWN_GRACE_SECONDS`` plus the
margin (``bot.app.stopping``), with a failure status and the stuck code named in its log, instead
of leaving a rolling restart waiting on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.app.stopping import EXIT_STOP_OVERRAN
from tests.faults.harness import GatewayProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

FAULTHANDLER_EXIT = 1  # faulthandler.dump_traceback_later(exit=True) ends the process so


async def _stopped(tmp_path: Path, mode: str) -> tuple[GatewayProcess, int, str]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        "APPROVAL_GATEWAY_SANDBOX_PLATFORMS": "memory",
        "APPROVAL_GATEWAY_OUTBOX__SHUTDOWN_GRACE_SECONDS": "0.5",
    }
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        command = ("-m", "tests.faults.stuck_serve", mode, "serve")
        gateway = GatewayProcess(data_dir, env, log, command=command)
        await gateway.start()
        code = await gateway.stop()
    return gateway, code, log_path.read_text(errors="replace")


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_a_part_that_ignores_cancellation_is_named_and_the_process_exits(
    tmp_path: Path,
) -> None:
    gateway, code, text = await _stopped(tmp_path, "ignores-cancel")
    assert gateway.overran == [], "the gateway ended its own stop, long before the harness did"
    assert code == EXIT_STOP_OVERRAN, text
    records = _records(text)
    assert any(r["msg"].startswith("the stop outlasted its bound") for r in records), text
    stuck = [r for r in records if r["msg"] == "still running: task"]
    assert any("in ignores_cancel" in line for r in stuck for line in r["stack"]), stuck
    threads = [r for r in records if r["msg"] == "still running: thread"]
    assert any(r["thread"] == "MainThread" for r in threads), threads


async def test_a_part_that_blocks_the_event_loop_is_shown_and_the_process_exits(
    tmp_path: Path,
) -> None:
    gateway, code, text = await _stopped(tmp_path, "blocks-loop")
    assert gateway.overran == [], "the watchdog thread ended the stop, before the harness did"
    assert code == FAULTHANDLER_EXIT, text
    # faulthandler's dump: every thread's stack, the blocked main thread's in the stuck call.
    assert "most recent call first" in text and "in blocks_loop" in text, text
