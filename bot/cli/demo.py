"""``approval-gateway demo``: the whole approval flow on sandbox platforms (``sandbox.demo``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``demo [--keep]``."""
    demo = subparsers.add_parser("demo", help="run the whole approval flow on sandbox platforms")
    demo.add_argument("--keep", action="store_true", help="keep serving after the flow")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Hand over to the demo, which owns the sandbox platforms it starts."""
    from bot import launch

    return launch.demo(args.keep, args.config)
