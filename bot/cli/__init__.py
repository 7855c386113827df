"""``approval-gateway``: the command line, one module per command group.

Every group module has ``add_commands(subparsers)``, which adds its parsers and gives each a
``set_defaults(run=<function(args) -> int>)``; :data:`GROUPS` lists the groups once, in the
order ``--help`` shows them. Helpers shared by the groups live in ``_db`` (a command on the
database file) and ``_http`` (a command calling a running gateway).

Imports are deferred into each command, and a group module's top level imports only the
standard library and these helpers, so that ``--help`` and small commands start fast: the
platform SDKs alone take seconds to import and only ``serve``/``demo`` need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import bot
from bot.cli import (
    approvals,
    audit,
    bindings,
    cards,
    channels,
    db,
    delegations,
    demo,
    examples,
    keys,
    preferences,
    serve,
    sign,
    tokens,
    usage,
)
from bot.cli._group import Command, CommandGroup
from bot.cli._help import CONFIG_HELP, finish
from bot.errors import GatewayError

# The status a shell gives a process that SIGPIPE ended (128 + 13): `set -o pipefail` sees it.
PIPE_CLOSED = 141

# Every command group, once, in the order --help lists them.
GROUPS: tuple[CommandGroup, ...] = (
    serve,
    demo,
    examples,
    approvals,
    db,
    tokens,
    cards,
    bindings,
    channels,
    keys,
    usage,
    preferences,
    delegations,
    audit,
    sign,
)


def parser() -> argparse.ArgumentParser:
    """The top-level parser with every group's commands registered."""
    top = argparse.ArgumentParser(
        prog="approval-gateway",
        description="Chat-bot approval gateway: approval cards on DingTalk, Lark and email.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {bot.__version__}")
    top.add_argument("--config", type=Path, help=CONFIG_HELP)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(commands)
    finish(top)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; GatewayErrors become a one-line message and exit status 2."""
    args = parser().parse_args(argv)
    run: Command = args.run
    try:
        _setup_logging(args)
        status = run(args)
        sys.stdout.flush()  # here, where a closed pipe can still be told apart (below)
        return status
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _pipe_closed()


def _pipe_closed() -> int:
    # The reader went away (`approvals show T | head`): not an error of ours. Point stdout at
    # /dev/null so the interpreter's final flush does not print a traceback of its own.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return PIPE_CLOSED


def _setup_logging(args: argparse.Namespace) -> None:
    from bot import logs

    # Commands print their results; only warnings are worth a log line beside them. ``serve``
    # sets the configured level itself once its settings are loaded.
    logs.setup("INFO" if args.command == "serve" else "WARNING")
