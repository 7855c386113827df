"""``approval-gateway``: serve, demo, inspect requests, migrate the database, manage tokens.

Imports are deferred into each command so that ``--help`` and small commands start fast: the
platform SDKs alone take seconds to import and only ``serve``/``demo`` need them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import bot
from bot.errors import GatewayError

Command = Callable[[argparse.Namespace], int]

# Command groups in modules of their own: each has ``add_commands(subparsers)`` that registers its
# parsers with ``set_defaults(run=<function(args) -> int>)``. Keep their top-level imports light.
COMMAND_MODULES = [
    "bot.cli.cards",
    "bot.cli.bindings",
    "bot.cli.channels",
    "bot.cli.keys",
    "bot.cli.usage",
    "bot.cli.preferences",
    "bot.cli.audit",
    "bot.cli.sign",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="approval-gateway",
        description="Chat-bot approval gateway: approval cards on DingTalk, Lark and email.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {bot.__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (environment wins)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("serve", help="run the gateway (embedded defaults unless configured)")
    demo = commands.add_parser("demo", help="run the whole approval flow on sandbox platforms")
    demo.add_argument("--keep", action="store_true", help="keep serving after the flow")

    approvals = commands.add_parser("approvals", help="inspect approval requests")
    approvals_cmd = approvals.add_subparsers(dest="approvals_command", required=True)
    show = approvals_cmd.add_parser("show", help="state, deliveries with history, decision")
    show.add_argument("ticket_id")

    db = commands.add_parser("db", help="database maintenance")
    db_cmd = db.add_subparsers(dest="db_command", required=True)
    db_cmd.add_parser("migrate", help="apply pending schema migrations")

    tokens = commands.add_parser("tokens", help="API tokens for admins and support")
    tokens_cmd = tokens.add_subparsers(dest="tokens_command", required=True)
    create = tokens_cmd.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", choices=["admin", "support"], required=True)
    create.add_argument("--label", default="")
    tokens_cmd.add_parser("list", help="list tokens (never the secret part)")
    revoke = tokens_cmd.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; GatewayErrors become a one-line message and exit status 2."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from bot import commands

    _setup_logging(args)
    run: Command | None = getattr(args, "run", None)
    if run is not None:
        return run(args)

    table: dict[str, Command] = {
        "serve": commands.serve,
        "demo": commands.demo,
        "approvals": commands.approvals,
        "db": commands.db,
        "tokens": commands.tokens,
    }
    return table[args.command](args)


def _setup_logging(args: argparse.Namespace) -> None:
    from bot import logs

    logs.setup("INFO" if args.command == "serve" else "WARNING")


if __name__ == "__main__":
    raise SystemExit(main())
