"""The production wheel is the product alone: no sandbox inside, and a wheel install that is
asked for the sandbox says in one line that it is not there. ``demo`` (the development install,
where the sandbox is) still runs the whole flow."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.store.postgres.store import MIGRATIONS as PG_MIGRATIONS
from bot.store.sqlite.store import MIGRATIONS
from tests.gateway.helpers import run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# Runs `serve` from the unpacked wheel alone: the checkout (which the editable install puts on
# sys.path, and with it the sandbox) is taken off the path first.
SERVE_FROM_WHEEL = """
import sys
wheel, root = sys.argv[1], sys.argv[2]
sys.path[:] = [wheel] + [p for p in sys.path if p not in ("", root)]
import bot
assert bot.__file__.startswith(wheel), bot.__file__
from bot.cli import main
raise SystemExit(main(["serve"]))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        timeout=120,
    )
    (built,) = out.glob("approval_gateway-*.whl")
    return built


def test_the_production_wheel_holds_bot_and_cards_and_no_sandbox(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"bot", "cards"}
    assert "bot/app/launch.py" in names and "cards/templates/email.html.j2" in names
    assert not [name for name in names if "sandbox" in name.split("/")[:-1]]
    # The phone drawing is the sandbox's: the pure renderer ships payloads, not a phone.
    assert not [name for name in names if "phone" in name]


def test_the_wheel_ships_the_queries_and_migrations_as_sql_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    sql = sorted(name for name in names if name.endswith(".sql"))
    for engine in ("bot/store", "bot/store/sqlite", "bot/store/postgres"):  # shared, then own
        assert {f"{engine}/sql/{area}.sql" for area in ("approvals", "outbox", "engine")} <= set(
            sql
        )
    migrations = [
        name.rsplit("/", 1)[1][:4] for name in sql if "bot/store/sqlite/migrations/" in name
    ]
    assert migrations == [f"{version:04d}" for version, _, _ in MIGRATIONS]  # every one of them
    pg = [name.rsplit("/", 1)[1][:4] for name in sql if "postgres/migrations/" in name]
    assert pg == [f"{version:04d}" for version, _, _ in PG_MIGRATIONS]


async def test_serve_from_the_wheel_with_the_sandbox_on_fails_in_one_line(
    wheel: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {
        "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "APPROVAL_GATEWAY_LISTEN": "127.0.0.1:0",
        "APPROVAL_GATEWAY_SANDBOX": "true",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE_FROM_WHEEL,
        str(unpacked),
        str(ROOT),
        env={**_base_env(), **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2, (out + err).decode()
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: APPROVAL_GATEWAY_SANDBOX is on but the sandbox package")
    assert "APPROVAL_GATEWAY_SANDBOX=false" in lines[0]


async def test_demo_runs_the_whole_flow_on_the_sandbox(tmp_path: Path) -> None:
    # TMPDIR: where tempfile makes the demo's data directory, gone once the demo is done.
    run = await run_cli("demo", env={"TMPDIR": str(tmp_path)}, cwd=tmp_path, within=90)
    assert run.code == 0, run.output
    assert "Done: one signed decision per ticket" in run.out
    assert [p for p in os.listdir(tmp_path) if p.startswith("approval-gateway-demo-")] == []
    # One approved and one rejected by a single tap, an all-of and a quorum request, one
    # reminded then escalated, one voted by a delegate.
    assert run.out.count("decision forwarded") == 6
    assert "1 of 2 approved" in run.out
    assert "reminder 1: app urgency on the original card (lark)" in run.out
    assert "Lark urgent_app on message om_" in run.out
    assert "escalation 0: an email reminder to 2003@sandbox.example" in run.out
    assert "mail “Waiting for your decision:" in run.out
    assert "went to Liu Yang on lark (trace: “delegated: 2001 -> 2003”)" in run.out
    assert "vote of 2001 by “2003 for Wang Wei”" in run.out


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("APPROVAL_GATEWAY_")}
