"""Configuration checked as a person would expect: one clear line on stderr and exit 2.

Each case runs the real CLI as its own process, configured the way an operator would (environment
variables or a TOML file), and reads what the person sees.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.settings.config import load_settings
from tests.gateway.helpers import CliRun, run_cli


def _one_line_error(run: CliRun) -> str:
    assert run.code == 2, run.output
    assert "Traceback" not in run.err, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    return lines[0]


async def _migrate(tmp_path: Path, env: dict[str, str], *args: str) -> CliRun:
    return await run_cli(*args, "db", "migrate", env=env, data_dir=tmp_path / "data")


async def test_a_list_is_accepted_as_a_person_types_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await _migrate(tmp_path, {"APPROVAL_GATEWAY_CHANNEL_ORDER": "lark, email"})
    assert run.code == 0, run.output
    monkeypatch.setenv("APPROVAL_GATEWAY_CHANNEL_ORDER", "lark,email")
    monkeypatch.setenv("APPROVAL_GATEWAY_CHINA_REGIONS", "cn,cn-shanghai")
    settings = load_settings(None)
    assert settings.channel_order == ["lark", "email"]
    assert settings.china_regions == ["cn", "cn-shanghai"]
    monkeypatch.setenv("APPROVAL_GATEWAY_CHANNEL_ORDER", '["dingtalk", "email"]')
    assert load_settings(None).channel_order == ["dingtalk", "email"]  # JSON still works


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("APPROVAL_GATEWAY_CHANNEL_ORDER", "lark,larkk", "did you mean lark?"),
        ("APPROVAL_GATEWAY_LOG_LEVEL", "LOUD", "log_level: 'LOUD' is not allowed"),
        ("APPROVAL_GATEWAY_BACKEND_URL", "not-a-url", "backend_url: must be an http"),
        ("APPROVAL_GATEWAY_PUBLIC_URL", "https://", "public_url: must be an http"),
        ("APPROVAL_GATEWAY_LARK__DOMAIN", "ftp://open.feishu.cn", "lark.domain: must be"),
        ("APPROVAL_GATEWAY_SANDBOX_PLATFORMS", "mail,dingtalk,larks", "did you mean lark?"),
        ("APPROVAL_GATEWAY_LISTEN", "127.0.0.1:70000", "listen: must be host:port"),
        ("APPROVAL_GATEWAY_LISTN", "127.0.0.1:0", "did you mean APPROVAL_GATEWAY_LISTEN?"),
        (
            "APPROVAL_GATEWAY_OUTBOX__LEASE_SECOND",
            "5",
            "did you mean APPROVAL_GATEWAY_OUTBOX__LEASE_SECONDS?",
        ),
        ("APPROVAL_GATEWAY_RATES__PLATFORM_PER_MESSAGE", "{lark: 1}", "rates: not valid JSON"),
        (
            "APPROVAL_GATEWAY_OUTBOX",
            '{"lease_second": 5}',
            "outbox.lease_second: unknown setting; did you mean lease_seconds?",
        ),
    ],
)
async def test_a_bad_variable_is_one_clear_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    line = _one_line_error(await _migrate(tmp_path, {variable: value}))
    assert expected in line
    assert not (tmp_path / "data").exists()  # refused before anything was made


async def test_bad_toml_files_name_the_key_or_the_line(tmp_path: Path) -> None:
    misspelt, broken = tmp_path / "misspelt.toml", tmp_path / "broken.toml"
    misspelt.write_text('listen = "127.0.0.1:0"\n[outbox]\nlese_seconds = 3\n')
    broken.write_text('listen = "127.0.0.1:0"\n[outbox\nlease_seconds = 3\n')
    runs = await asyncio.gather(
        _migrate(tmp_path, {}, "--config", str(misspelt)),
        _migrate(tmp_path, {}, "--config", str(broken)),
    )
    line = _one_line_error(runs[0])
    assert "outbox.lese_seconds" in line and "did you mean lease_seconds?" in line
    assert f"{broken}:2:" in _one_line_error(runs[1])


async def test_a_data_dir_that_is_a_file_is_one_clear_line(tmp_path: Path) -> None:
    plain = tmp_path / "data"
    plain.write_text("not a directory")
    run = await run_cli("db", "migrate", data_dir=plain)
    assert f"{plain} exists and is not a directory" in _one_line_error(run)


READ_ONLY = [
    ("approvals", "show", "T-1"),
    ("tokens", "list"),
    ("audit",),
    ("usage",),
    ("bindings", "list"),
    ("bindings", "show", "acc-1"),
    ("bindings", "export"),
    ("preferences", "show", "acc-1"),
]


async def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = await asyncio.gather(*(run_cli(*command, cwd=elsewhere) for command in READ_ONLY))
    for command, run in zip(READ_ONLY, runs, strict=True):
        line = _one_line_error(run)
        assert "no database at data/gateway.db" in line, (command, line)
    assert list(elsewhere.iterdir()) == []
