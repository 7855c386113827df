"""``approval-gateway db migrate``: apply pending schema migrations to the configured database
(the SQLite file, or PostgreSQL under its advisory lock)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``db migrate``."""
    group = subparsers.add_parser("db", help="database maintenance")
    cmd = group.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    cmd.add_parser("migrate", help="apply pending schema migrations").set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    """Open without migrating, then migrate explicitly, so the versions applied can be told."""
    from bot.cli._db import migrate
    from bot.settings.config import load_settings

    applied = migrate(load_settings(args.config))
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0
