"""What every command's ``--help`` carries beyond its own options: an example, and ``--config``.

The examples live here, one per command, so that a test can walk the parser tree and see that
none is missing; :func:`finish` attaches them after every group has registered its parsers.
``--config`` is added to every parser (group and leaf) with a suppressed default, so that it is
accepted anywhere on the line (``tokens list --config c.toml``) without a later parser
resetting a value an earlier one parsed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

CONFIG_HELP = "TOML settings file (the environment wins over it)"

# Shown under ``serve --help``: where the settings are described.
CONFIG_POINTER = """\
configuration: environment variables APPROVAL_GATEWAY_* and/or a TOML file (--config);
  every setting with its description and default: `approval-gateway config example` (TOML)
  or `approval-gateway config example --format env`, and examples/gateway.toml in the
  source tree. Without any settings, serve runs the embedded defaults: SQLite in ./data and
  the sandbox platforms."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "serve": (
        "approval-gateway serve --config /etc/approval-gateway/gateway.toml",
        "APPROVAL_GATEWAY_LISTEN=0.0.0.0:8080 approval-gateway serve",
    ),
    "demo": ("approval-gateway demo", "approval-gateway demo --keep --keep-data"),
    "config example": (
        "approval-gateway config example > gateway.toml",
        "approval-gateway config example --format env > gateway.env",
    ),
    "approvals show": ("approval-gateway approvals show T-1001 | jq .status",),
    "db migrate": ("approval-gateway db migrate --config gateway.toml",),
    "tokens create": (
        "approval-gateway tokens create --role admin --label ops",
        "approval-gateway tokens create --role support --quiet > support.token",
    ),
    "tokens list": ("approval-gateway tokens list",),
    "tokens revoke": ("approval-gateway tokens revoke tok_3f2a",),
    "cards render": ("approval-gateway cards render --channel lark --locale zh-CN",),
    "cards validate": (
        "approval-gateway cards render --channel lark | approval-gateway cards validate -",
    ),
    "cards send-test": (
        "approval-gateway cards send-test --channel lark --to alice --token-file admin.token",
    ),
    "bindings list": ("approval-gateway bindings list --channel lark --unbound",),
    "bindings show": ("approval-gateway bindings show alice",),
    "bindings set": (
        "approval-gateway bindings set alice --channel lark --address ou_7d8a6e",
        "approval-gateway bindings set alice --channel email --address a@example.com --verified",
    ),
    "bindings remove": ("approval-gateway bindings remove alice --channel lark",),
    "bindings import": ("approval-gateway bindings import people.csv",),
    "bindings export": ("approval-gateway bindings export > bindings.csv",),
    "bindings lookup": (
        "approval-gateway bindings lookup --lark-email a@example.com --apply alice "
        "--token-file admin.token",
    ),
    "channels list": ("approval-gateway channels list --token-file admin.token",),
    "channels notice": ("approval-gateway channels notice lark --token-file admin.token",),
    "channels authorize": (
        "approval-gateway channels authorize lark --app-id cli_a1 --app-secret-file secret.txt "
        "--token-file admin.token",
    ),
    "channels revoke": ("approval-gateway channels revoke lark --token-file admin.token",),
    "keys rotate": ("approval-gateway keys rotate --new-key-file new.key",),
    "usage": ("approval-gateway usage --from 2026-01-01 --group-by account",),
    "preferences show": ("approval-gateway preferences show alice",),
    "preferences set": (
        "approval-gateway preferences set alice --order lark,dingtalk --email off",
    ),
    "delegations list": ("approval-gateway delegations list alice",),
    "delegations set": (
        "approval-gateway delegations set alice bob --until 2026-08-15T18:00+08:00",
    ),
    "delegations clear": ("approval-gateway delegations clear alice",),
    "audit": ("approval-gateway audit --action decision --from 2026-01-01 --json",),
    "sign": (
        "approval-gateway sign POST /v1/approvals --body-file ticket.json "
        "--secret-file backend_secret",
    ),
}


def finish(top: argparse.ArgumentParser) -> None:
    """Give every parser ``--config`` and every command its example (and ``serve`` the
    configuration pointer)."""
    for name, parser in walk(top):
        if name:
            parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
        if name in EXAMPLES:
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
            lines = "\n".join(f"  {line}" for line in EXAMPLES[name])
            parser.epilog = f"example{'s' if len(EXAMPLES[name]) > 1 else ''}:\n{lines}"
            if name == "serve":
                parser.epilog += "\n\n" + CONFIG_POINTER


def walk(
    parser: argparse.ArgumentParser, name: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser under ``parser`` (itself first), with its command path (``tokens create``)."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from walk(sub, f"{name} {sub_name}".strip())


def is_leaf(parser: argparse.ArgumentParser) -> bool:
    """A parser that runs a command (it has no subcommands of its own)."""
    return not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
