"""What the command line prints: a token alone with ``--quiet``, nothing but the output when the
reader of a pipe goes away, and the libraries' chatter only in a DEBUG log."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import logs
from bot.cli import PIPE_CLOSED


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPROVAL_GATEWAY_")}
    return {**env, "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path / "data")}


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tokens_create_quiet_prints_the_token_alone(tmp_path: Path) -> None:
    result = _cli(tmp_path, "tokens", "create", "--role", "support", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and " " not in lines[0] and len(lines[0]) > 20, result.stdout
    listed = _cli(tmp_path, "tokens", "list")
    assert listed.stdout.count("support") == 1  # and it is a real token


@pytest.mark.parametrize(
    "args",
    [
        ("config", "example"),
        ("tokens", "create", "--role", "admin"),  # a database write, then the print
    ],
)
def test_a_closed_pipe_ends_the_command_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: `... | head -0`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env=_env(tmp_path),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == PIPE_CLOSED


def _log_lines(level: str, name: str, message: str) -> list[dict[str, object]]:
    out = io.StringIO()
    logs.setup(level, stream=out)
    try:
        logging.getLogger(name).info(message)
    finally:
        logs.setup("WARNING")
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    "name", ["mail.log", "Lark", "dingtalk_stream.client", "websockets.client"]
)
def test_library_chatter_is_logged_at_debug_only(name: str) -> None:
    noise = "<peer> Connection lost during _handle_client()"
    assert _log_lines("INFO", name, noise) == []
    (line,) = _log_lines("DEBUG", name, noise)
    assert line["level"] == "debug" and line["msg"] == noise


def test_our_own_info_stays_info() -> None:
    (line,) = _log_lines("INFO", "bot.http", "listening")
    assert line["level"] == "info"
