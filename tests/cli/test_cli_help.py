"""The command line's help and option handling: every command has an example and every option
says what it is for; ``--config`` goes anywhere; ``serve --help`` points at the settings."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import parser
from bot.cli._help import is_leaf, walk

COMMANDS = [name for name, sub in walk(parser()) if name and is_leaf(sub)]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPROVAL_GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_command_is_walked() -> None:
    assert {"serve", "tokens create", "approvals show", "config example", "sign"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example_and_every_option_a_help_text(command: str) -> None:
    sub = dict(walk(parser()))[command]
    text = sub.format_help()
    assert "example" in text and "approval-gateway " + command in text, text
    silent = [
        action.option_strings or action.dest
        for action in sub._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert silent == [], f"{command}: options without help: {silent}"


def test_serve_help_points_at_the_configuration() -> None:
    result = _cli("serve", "--help")
    assert result.returncode == 0
    assert "APPROVAL_GATEWAY_" in result.stdout
    assert "approval-gateway config example" in result.stdout
    assert "--config" in result.stdout


@pytest.mark.parametrize(
    "where",
    [
        ["--config", "{c}", "tokens", "list"],
        ["tokens", "--config", "{c}", "list"],
        ["tokens", "list", "--config", "{c}"],
        ["tokens", "list", "--config={c}"],
    ],
)
def test_config_is_accepted_anywhere_on_the_line(tmp_path: Path, where: list[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    assert _cli("--config", str(config), "db", "migrate").returncode == 0
    # Run elsewhere: without the file's data_dir the command would find no database.
    result = _cli(*(part.format(c=config) for part in where), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "unrecognized arguments" not in result.stderr


def test_a_config_given_late_wins_over_none_given_early(tmp_path: Path) -> None:
    args = parser().parse_args(["tokens", "list", "--config", "x.toml"])
    assert args.config == Path("x.toml")
    assert parser().parse_args(["tokens", "list"]).config is None
