"""The data directory is private: 0700, and every file in it 0600 from the moment it exists."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import fields_of
from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import parts

EXPECTED_FILES = {
    "gateway.db",
    "gateway.db-wal",
    "gateway.db-shm",
    "backend_secret",
    "master.key",
}


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    # The common default: files would come out 0644 unless the gateway asks for less.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _modes(data_dir: Path) -> dict[str, int]:
    entries = [data_dir, *data_dir.iterdir()]
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in entries}


async def _run_once(data_dir: Path, ticket_id: str = "T-FILES") -> None:
    stack, backend, _ = parts(await start(fast_settings(data_dir)))
    try:
        status, _ = await backend.submit(sample_ticket(ticket_id, [approver("a1", "Ann")]))
        assert status == 202
        modes = _modes(data_dir)  # while running: -wal and -shm exist now
    finally:
        await stack.stop()
    assert set(modes) >= EXPECTED_FILES, modes
    assert modes.pop(data_dir.name) == 0o700
    assert modes == dict.fromkeys(modes, 0o600)


async def test_a_fresh_data_dir_is_private(tmp_path: Path) -> None:
    await _run_once(tmp_path / "data")


async def test_a_looser_data_dir_is_tightened_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    await _run_once(data_dir)
    data_dir.chmod(0o755)
    for name in ("gateway.db", "backend_secret"):
        (data_dir / name).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="bot.files"):
        await _run_once(data_dir, "T-AGAIN")
    warnings = [r for r in caplog.records if r.name == "bot.files"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].getMessage() == "data directory permissions tightened"
    tightened = fields_of(warnings[0])["tightened"]
    assert sorted(tightened) == [
        "backend_secret 0644->0600",
        "data 0755->0700",
        "gateway.db 0644->0600",
    ]
