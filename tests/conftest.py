"""Shared fixtures: a real gateway on a temp SQLite file, with the sandbox backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings.config import OutboxSettings, Settings, load_settings

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost,::1")
# Where the PostgreSQL cases run (tests/store/engines.py), read before the scrub below. It moves
# to a name outside the gateway's prefix: the workers of a parallel run read it again, and the
# gateway processes the tests start refuse any APPROVAL_GATEWAY_ variable they do not know.
_SUITE_DATABASE_URL = "GATEWAY_SUITE_DATABASE_URL"
TEST_DATABASE_URL = os.environ.get("APPROVAL_GATEWAY_TEST_DATABASE_URL") or os.environ.get(
    _SUITE_DATABASE_URL
)
if TEST_DATABASE_URL:
    os.environ[_SUITE_DATABASE_URL] = TEST_DATABASE_URL
for _name in list(os.environ):
    # A developer's own configuration must not leak into the suite.
    if _name.startswith("APPROVAL_GATEWAY_"):
        del os.environ[_name]

# The PostgreSQL cases skip with this prefix where no server answers (tests/store/engines.py);
# the run's summary counts them in one line, never silently.
POSTGRES_SKIP = "no PostgreSQL at"
_postgres_skips: list[str] = []

FAST_OUTBOX = OutboxSettings(
    lease_seconds=2,
    poll_seconds=0.05,
    backoff_base_seconds=0.05,
    backoff_cap_seconds=0.2,
    expiry_sweep_seconds=0.2,
)


def fast_settings(data_dir: Path, **overrides: object) -> Settings:
    """Embedded settings with a fast outbox, on a free port."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "listen": "127.0.0.1:0",
        "sandbox": True,
        "backend_url": None,
        "outbox": FAST_OUTBOX,
        # The core tests need only the memory platform; channel tests ask for theirs.
        "sandbox_platforms": ["memory"],
    }
    values.update(overrides)
    return load_settings(None, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path / "data")


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[object]:
    from sandbox.embedded import start

    embedded = await start(settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # With several workers the skips happen in the workers; their reports reach the main
    # process's hooks too, so the count below holds however the suite ran.
    if (
        report.skipped
        and isinstance(report.longrepr, tuple)
        and POSTGRES_SKIP in report.longrepr[2]
    ):
        _postgres_skips.append(report.longrepr[2])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skips:
        terminalreporter.write_line(
            f"POSTGRESQL TESTS SKIPPED ({len(_postgres_skips)}): {_postgres_skips[0]}; "
            "set APPROVAL_GATEWAY_TEST_DATABASE_URL or start the server",
            red=True,
            bold=True,
        )
