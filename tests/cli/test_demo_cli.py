"""``approval-gateway demo --keep-data`` keeps its data directory and says where (that the demo
removes it otherwise is checked by the whole-flow demo test in ``tests/deploy/test_packaging.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _demo(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPROVAL_GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo", *args],
        env={**env, "TMPDIR": str(tmp)},  # where tempfile makes the demo's data directory
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keep_data_keeps_it_and_says_where(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--keep-data")
    assert result.returncode == 0, result.stdout + result.stderr
    (kept,) = tmp_path.glob("approval-gateway-demo-*")
    assert re.search(rf"kept in {re.escape(str(kept))}$", result.stdout.strip())
    assert {"gateway.db", "master.key", "backend_secret"} <= {p.name for p in kept.iterdir()}
