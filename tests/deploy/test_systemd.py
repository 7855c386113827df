"""deploy/systemd/approval-gateway.service: `systemd-analyze verify` and its hardening, where
systemd is installed (skipped with the reason where not)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "approval-gateway.service"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed: the unit file is not verified"
)


def _settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def _local_unit(tmp_path: Path) -> Path:
    # verify checks that ExecStart's program exists: point it at this checkout's install.
    installed = Path(sys.executable).parent / "approval-gateway"
    unit = tmp_path / UNIT.name
    unit.write_text(
        UNIT.read_text().replace("/opt/approval-gateway/bin/approval-gateway", str(installed))
    )
    return unit


@needs_systemd
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "verify", str(_local_unit(tmp_path))], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


@needs_systemd
def test_systemd_rates_the_unit_well_hardened(tmp_path: Path) -> None:
    # systemd's own exposure score, 0 (locked down) to 10: the unit scores 1.5 today.
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=20", str(_local_unit(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_the_unit_is_hardened_and_keeps_its_state_in_the_state_directory() -> None:
    unit = _settings()
    for key, value in {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "approval-gateway",
    }.items():
        assert unit.get(key) == [value], key
    assert "APPROVAL_GATEWAY_DATA_DIR=%S/approval-gateway" in unit["Environment"]
    assert unit["RestartPreventExitStatus"] == ["2"]  # a configuration error: no restart loop
