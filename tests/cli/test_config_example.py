"""``config example`` and the files in examples/: every setting, described, at its default, and
the checked-in files are exactly what the settings model generates today."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.cli.examples import render
from bot.settings.config import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"toml": ROOT / "examples" / "gateway.toml", "env": ROOT / "examples" / "gateway.env"}


def _leaves(
    model: type[BaseModel], path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += _leaves(kind, (*path, name))
        else:
            found.append(((*path, name), field.description or ""))
    return found


@pytest.mark.parametrize("fmt", ["toml", "env"])
def test_the_checked_in_example_is_what_the_settings_model_generates(fmt: str) -> None:
    assert EXAMPLES[fmt].read_text() == render(fmt), (
        f"{EXAMPLES[fmt]} is out of date: run "
        f"`approval-gateway config example --format {fmt} > examples/gateway.{fmt}`"
    )


def test_every_setting_has_a_description() -> None:
    assert [path for path, text in _leaves(Settings) if not text] == []


@pytest.mark.parametrize("fmt", ["toml", "env"])
def test_every_setting_is_in_the_example_with_its_description(fmt: str) -> None:
    text = render(fmt)
    for path, description in _leaves(Settings):
        env = ENV_PREFIX + "__".join(path).upper()
        assert f"# {description}\n" in text
        key = f"# {env}=" if fmt == "env" else f"# {path[-1]} ="
        assert key in text and (fmt == "env" or env in text), path


def test_the_toml_example_with_its_defaults_opened_loads_to_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Open every line that sets a value: the file must parse, pass the settings checks, and
    # give the very defaults the model has (so the defaults written are the real ones).
    opened = [
        line[2:] if line.startswith("# ") and " = " in line else line
        for line in render("toml").splitlines()
    ]
    config = tmp_path / "gateway.toml"
    config.write_text("\n".join(opened) + "\n")
    assert tomllib.loads(config.read_text())["outbox"]["lease_seconds"] == 30.0
    for name in os.environ:
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    assert load_settings(config).model_dump() == load_settings().model_dump()


def test_config_example_prints_the_env_file() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "config", "example", "--format", "env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == EXAMPLES["env"].read_text()
