"""Checks on the raw configuration that pydantic-settings does not make, each a one-line error.

pydantic-settings ignores environment variables it has no field for and reports a malformed TOML
file as a bare ``TOMLDecodeError``. A person who misspells ``APPROVAL_GATEWAY_LISTEN`` or a key in
``[outbox]`` must hear about it, with the nearest valid name; a broken file must name its line.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError

_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's table; ConfigError ``FILE:LINE:COL: problem`` when it does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        if where is None:
            raise ConfigError(f"{path}: {message}") from None
        problem = message[: where.start()].strip()
        raise ConfigError(f"{path}:{where[1]}:{where[2]}: {problem}") from None


def nearest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def unknown_keys(model: type[BaseModel], data: Mapping[str, Any], where: str = "") -> list[str]:
    """Every key in ``data`` (recursively into nested settings) that ``model`` has no field for."""
    problems = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        path = f"{where}{key}"
        if field is None:
            problems.append(f"unknown setting {path}{nearest(key, model.model_fields)}")
            continue
        nested = _settings_model(field.annotation)
        if nested is not None and isinstance(value, Mapping):
            problems.extend(unknown_keys(nested, value, f"{path}."))
    return problems


def env_names(model: type[BaseModel], prefix: str) -> tuple[set[str], set[str]]:
    """The variable names ``model`` reads (upper case) and the prefixes of free-form maps."""
    names: set[str] = set()
    open_prefixes: set[str] = set()
    for key, field in model.model_fields.items():
        name = f"{prefix}{key.upper()}"
        names.add(name)
        nested = _settings_model(field.annotation)
        if nested is not None:
            inner, inner_open = env_names(nested, f"{name}__")
            names |= inner
            open_prefixes |= inner_open
        elif _is_mapping(field.annotation):
            open_prefixes.add(f"{name}__")  # e.g. RATES__PLATFORM_PER_MESSAGE__LARK
    return names, open_prefixes


def unknown_env(
    model: type[BaseModel], prefix: str, environ: Mapping[str, str], allowed: Iterable[str]
) -> list[str]:
    """``APPROVAL_GATEWAY_*`` variables that no setting reads, each with the nearest valid one."""
    names, open_prefixes = env_names(model, prefix)
    names |= set(allowed)
    problems = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(prefix) or upper in names:
            continue
        if any(upper.startswith(p) for p in open_prefixes):
            continue
        problems.append(f"unknown environment variable {variable}{nearest(upper, names)}")
    return problems


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """pydantic's errors as ``field: problem`` joined on one line, never echoing a secret."""
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "settings"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            # e.g. a whole group given as JSON in one variable, with a misspelt key inside
            fields = _fields_at(model, err["loc"][:-1])
            message = f"unknown setting{nearest(str(err['loc'][-1]), fields)}"
        elif err["type"] == "literal_error" and isinstance(err.get("input"), str):
            # Enumerated values are never secret: show what was given and the nearest choice.
            given = err["input"]
            choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            message = f"{given!r} is not allowed: {message}{nearest(given, choices)}"
        problems.append(f"{where}: {message}")
    return "; ".join(problems).replace("\n", " ")


def describe_parse_error(exc: Exception) -> str:
    """pydantic-settings' "error parsing value for field X" with the parser's reason."""
    field = re.search(r'field "([^"]+)"', str(exc))
    return f"{field[1] if field else 'settings'}: not valid JSON ({exc.__cause__})"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    for part in loc:
        field = model.model_fields.get(str(part))
        nested = _settings_model(field.annotation) if field is not None else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _settings_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _is_mapping(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    return origin is dict or annotation is dict
