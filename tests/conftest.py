"""Shared fixtures: a real gateway on a temp SQLite file, with the sandbox backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings.config import OutboxSettings, Settings, load_settings

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost,::1")
# Where the PostgreSQL cases run (tests/store/engines.py), read before the scrub below.
TEST_DATABASE_URL = os.environ.get("APPROVAL_GATEWAY_TEST_DATABASE_URL")
for _name in list(os.environ):
    # A developer's own configuration must not leak into the suite.
    if _name.startswith("APPROVAL_GATEWAY_"):
        del os.environ[_name]

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
