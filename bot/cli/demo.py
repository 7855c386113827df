"""``approval-gateway demo``: the whole approval flow on sandbox platforms (``sandbox.demo``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``demo [--keep] [--keep-data]``."""
    demo = subparsers.add_parser("demo", help="run the whole approval flow on sandbox platforms")
    demo.add_argument("--keep", action="store_true", help="keep serving after the flow")
    demo.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the demo's temporary data directory (removed by default) and print where",
    )
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Hand over to the demo, which owns the sandbox platforms it starts."""
    from bot.app.launch import sandbox_module

    main = sandbox_module("demo").main
    return cast(int, main(args.keep, args.config, keep_data=args.keep_data))
