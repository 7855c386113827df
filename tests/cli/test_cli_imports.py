"""``--help`` and the commands on the database file load no web framework and no platform SDK.

The SDKs take seconds to import, aiohttp with the HTTP layer about a fifth of one: only ``serve``,
``demo`` and ``tokens create`` (which uses the HTTP layer's token format) need them. Nor do they
build the request models' validators, which they never use (built on first use instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.engines import postgres_schema

# jinja2 only draws emails and pages; prometheus_client only serves /metrics.
HEAVY = ("aiohttp", "lark_oapi", "dingtalk_stream", "jinja2", "prometheus_client")

# Runs one command in a fresh interpreter, then prints the exit status and which HEAVY modules
# the command loaded; ``--help`` ends in SystemExit, which is its normal way out.
PROBE = f"""
import json, sys
import bot.cli
try:
    code = bot.cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def _probe(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> tuple[int, list[str], str]:
    """(exit status, HEAVY modules loaded, everything printed before the verdict)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    *output, verdict = result.stdout.strip().splitlines()
    found = json.loads(verdict)
    return found["code"], found["loaded"], "\n".join(output)


def _cli(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_loads_no_web_framework_or_sdk(tmp_path: Path) -> None:
    code, loaded, output = _probe("--help", data_dir=tmp_path)
    assert code == 0 and "tokens" in output and "bindings" in output
    assert loaded == []


def test_tokens_list_on_an_existing_database_loads_no_web_framework_or_sdk(
    tmp_path: Path,
) -> None:
    token_id = _cli("tokens", "create", "--role", "support", data_dir=tmp_path).split()[1]
    code, loaded, output = _probe("tokens", "list", data_dir=tmp_path)
    assert code == 0 and token_id in output
    assert loaded == []


def test_tokens_list_on_postgresql_loads_no_web_framework_or_sdk(tmp_path: Path) -> None:
    with postgres_schema() as url:
        env = {"APPROVAL_GATEWAY_DATABASE_URL": url}
        token_id = _cli("tokens", "create", "--role", "support", data_dir=tmp_path, env=env)
        code, loaded, output = _probe("tokens", "list", data_dir=tmp_path, env=env)
    assert code == 0 and token_id.split()[1] in output
    assert loaded == []


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["audit"], 0),
        (["usage"], 0),
        (["bindings", "list"], 0),
        (["preferences", "show", "a1"], 0),
        (["approvals", "show", "T-1"], 2),  # no such ticket
    ],
)
def test_other_commands_on_the_database_load_no_web_framework_or_sdk(
    tmp_path: Path, command: list[str], status: int
) -> None:
    _cli("db", "migrate", data_dir=tmp_path)
    code, loaded, _ = _probe(*command, data_dir=tmp_path)
    assert code == status
    assert loaded == []


# What --help has no use for: the settings models and the channel registry (a fifth of a second
# together), and pydantic itself.
SETTINGS = ("bot.settings.config", "bot.channels.registry", "pydantic_settings", "pydantic")

PROBE_SETTINGS = PROBE.replace(repr(HEAVY), repr(SETTINGS))


def test_help_loads_neither_the_settings_nor_the_channel_registry(tmp_path: Path) -> None:
    for args in (["--help"], ["bindings", "--help"], ["cards", "--help"]):
        result = subprocess.run(
            [sys.executable, "-c", PROBE_SETTINGS, *args],
            env={**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        found = json.loads(result.stdout.strip().splitlines()[-1])
        assert found == {"code": 0, "loaded": []}, args


def test_cards_render_loads_no_web_framework_or_sdk(tmp_path: Path) -> None:
    code, loaded, output = _probe("cards", "render", "--channel", "lark", data_dir=tmp_path)
    assert code == 0 and '"schema": "2.0"' in output
    assert loaded == []


# Whether the API's models had their validators built by the time the command ended (a model
# whose module was never imported was not built either).
PROBE_BUILT = PROBE.replace(
    "[m for m in",
    "[m for m in ('ApprovalRequest', 'StoredRequest', 'Delivery') if 'bot.core.models' in"
    " sys.modules and getattr(sys.modules['bot.core.models'], m).__pydantic_complete__]"
    " + [m for m in",
)


def test_tokens_list_builds_no_request_model(tmp_path: Path) -> None:
    _cli("db", "migrate", data_dir=tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", PROBE_BUILT, "tokens", "list"],
        env={**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"code": 0, "loaded": []}, result.stderr


def _loaded(names: tuple[str, ...], *args: str, data_dir: Path) -> tuple[int, list[str], str]:
    """(exit status, which of ``names`` the command loaded, its stderr)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.replace(repr(HEAVY), repr(names)), *args],
        env={**os.environ, "APPROVAL_GATEWAY_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return found["code"], found["loaded"], result.stderr


# What `tokens list` on the SQLite file has no use for: the other engine and its driver, aiosql
# (the query files are plain enough to be read without it), the repositories of every store
# port but the tokens, and the request, routing and timing models (the settings and the token
# records need none of them).
NOT_FOR_TOKENS = (
    "bot.store.postgres",
    "asyncpg",
    "aiosql",
    "bot.store.repos.requests",
    "bot.store.repos.outbox",
    "bot.store.repos.rows",
    "bot.store.bindings",
    "bot.store.preferences",
    "bot.core.intake",
    "bot.core.models",
    "bot.core.routing",
    "bot.core.roster",
    "bot.core.policy",
    "bot.core.timing.policy",
)


def test_tokens_list_on_sqlite_loads_neither_the_other_engine_nor_other_ports(
    tmp_path: Path,
) -> None:
    _cli("db", "migrate", data_dir=tmp_path)
    code, loaded, err = _loaded(NOT_FOR_TOKENS, "tokens", "list", data_dir=tmp_path)
    assert (code, loaded) == (0, []), err


# What the sample card has no use for: the request models and the channels' presentation that
# only a --ticket file needs, and the settings.
NOT_FOR_SAMPLE = ("bot.core.intake", "bot.core.models", "bot.channels", "bot.settings")


def test_cards_render_of_the_sample_loads_no_request_model(tmp_path: Path) -> None:
    code, loaded, err = _loaded(
        NOT_FOR_SAMPLE, "cards", "render", "--channel", "dingtalk", data_dir=tmp_path
    )
    assert (code, loaded) == (0, []), err
