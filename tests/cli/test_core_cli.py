"""The core CLI: --version, --config TOML, db migrate, approvals show — as real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import bot
from bot.store.sqlite.store import LATEST, MIGRATIONS


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version() -> None:
    result = _cli("--version")
    assert result.returncode == 0 and bot.__version__ in result.stdout


def test_toml_config_sets_the_data_dir_and_migrate_is_idempotent(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-toml"
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{data_dir}"\n\n[outbox]\nlease_seconds = 12\n')
    first = _cli("--config", str(config), "db", "migrate")
    assert first.returncode == 0, first.stderr
    versions = [version for version, _, _ in MIGRATIONS]
    assert f"applied migrations: {versions}" in first.stdout
    with sqlite3.connect(data_dir / "gateway.db") as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (LATEST,)
    again = _cli("--config", str(config), "db", "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{tmp_path / "toml"}"\n')
    result = _cli(
        "--config",
        str(config),
        "db",
        "migrate",
        env={"APPROVAL_GATEWAY_DATA_DIR": str(tmp_path / "env")},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env" / "gateway.db").exists()
    assert not (tmp_path / "toml").exists()


def test_bad_settings_are_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('listen = "nonsense"\n')
    result = _cli("--config", str(config), "db", "migrate")
    assert result.returncode == 2
    assert "listen" in result.stderr and "Traceback" not in result.stderr
    missing = _cli("--config", str(tmp_path / "nope.toml"), "db", "migrate")
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_approvals_show_prints_the_trace(tmp_path: Path) -> None:
    env = {"APPROVAL_GATEWAY_DATA_DIR": str(tmp_path)}
    demo = _demo_ticket(tmp_path)
    unknown = _cli("approvals", "show", "T-NONE", env=env)
    assert unknown.returncode == 2 and "no request for ticket T-NONE" in unknown.stderr
    shown = _cli("approvals", "show", demo, env=env)
    assert shown.returncode == 0, shown.stderr
    trace = json.loads(shown.stdout)
    assert trace["ticket_id"] == demo and trace["status"] == "approved"
    assert trace["decision"]["forward_state"] == "forwarded"


def _demo_ticket(data_dir: Path) -> str:
    """Run one approval through an embedded gateway on ``data_dir``; return its ticket id."""
    script = (
        "import asyncio, sys\n"
        "from tests.conftest import fast_settings\n"
        "from sandbox.embedded import start\n"
        "from bot.core.models import ClickAction\n"
        "from sandbox.tickets import approver, sample_ticket\n"
        "async def main():\n"
        "    e = await start(fast_settings(__import__('pathlib').Path(sys.argv[1])))\n"
        "    _, r = await e.backend.submit(sample_ticket('T-CLI', [approver('a1', 'Ann')]))\n"
        "    d = r['deliveries'][0]['delivery_id']\n"
        "    await asyncio.wait_for(e.memory.wait_for(d), 10)\n"
        "    await e.memory.click('a1', d, ClickAction.APPROVE)\n"
        "    await e.backend.wait_for_decision('T-CLI')\n"
        "    while (await e.backend.trace('T-CLI'))[1]['decision']['forward_state'] != 'forwarded':\n"
        "        await asyncio.sleep(0.05)\n"
        "    await e.stop()\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", script, str(data_dir)],
        cwd=root,
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    return "T-CLI"
