"""``approval-gateway preferences``: an account's channel order, approval email on/off, zone.

Works on the database directly, as ``bindings`` does; the running gateway reads preferences per
delivery, so a change applies to the next request without a restart.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli._db import Storage, now, on_store, who

if TYPE_CHECKING:
    from bot.cli._group import Subparsers
    from bot.core.storage import Preferences


def add_commands(subparsers: Subparsers) -> None:
    """Register ``preferences show|set``."""
    group = subparsers.add_parser("preferences", help="per-account channel order and email")
    cmd = group.add_subparsers(dest="preferences_command", required=True, metavar="COMMAND")
    show = cmd.add_parser("show", help="one account's preferences")
    show.add_argument("account_id", help="the account id the backend uses")
    show.set_defaults(run=on_store(_show, create=False))
    put = cmd.add_parser("set", help="change an account's channel order and/or email")
    put.add_argument("account_id", help="the account id the backend uses")
    put.add_argument("--order", help="channels in order, e.g. lark,dingtalk ('' resets)")
    put.add_argument("--email", choices=["on", "off"], help="receive approval email at all")
    put.add_argument(
        "--zone", help="IANA time zone for cards, emails and quiet hours ('' resets to by-locale)"
    )
    put.set_defaults(run=on_store(_set))


def _print(prefs: Preferences) -> None:
    order = ",".join(prefs.channel_order) if prefs.channel_order else "(deployment default)"
    print(f"account\t{prefs.account_id}")
    print(f"channel_order\t{order}")
    print(f"email\t{'on' if prefs.email_enabled else 'off'}")
    print(f"time_zone\t{prefs.time_zone or '(by locale)'}")


async def _show(args: argparse.Namespace, storage: Storage) -> int:
    from bot.core.validation import check_account

    _print(await storage.preferences.get(check_account(args.account_id)))
    return 0


async def _set(args: argparse.Namespace, storage: Storage) -> int:
    from bot.core.validation import check_account, check_order, check_time_zone

    if args.order is None and args.email is None and args.zone is None:
        print("nothing to change: give --order, --email and/or --zone", file=sys.stderr)
        return 2
    order = None if args.order is None else check_order(args.order.split(","))
    email = None if args.email is None else args.email == "on"
    zone = None if args.zone is None else check_time_zone(args.zone)
    prefs = await storage.preferences.set(
        check_account(args.account_id),
        order=order,
        email_enabled=email,
        time_zone=zone,
        by=who(),
        at=now(),
    )
    _print(prefs)
    return 0
