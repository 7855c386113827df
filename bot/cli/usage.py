"""``approval-gateway usage``: messages sent and updated, and paid urgency (SMS, phone), per day
or per account.

Reads the database file directly, like ``approvals show``: usage is wanted when reconciling a
platform's bill, possibly with the gateway stopped, and whoever can read the data directory can
already read every count in it, so no API token adds anything here.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.cli._db import Storage
    from bot.cli._group import Subparsers
    from bot.core.storage import UsageReport


def add_commands(subparsers: Subparsers) -> None:
    """Register ``usage [--from --to --channel --group-by --json]``."""
    usage = subparsers.add_parser(
        "usage", help="messages sent and updated, and paid urgency, per channel"
    )
    usage.add_argument("--from", dest="from_day", help="first UTC day, YYYY-MM-DD (this month)")
    usage.add_argument("--to", dest="to_day", help="last UTC day, YYYY-MM-DD (today)")
    usage.add_argument("--channel", help="only this channel")
    usage.add_argument(
        "--group-by",
        choices=["day", "account"],
        default="day",
        help="one row per day or per account (default: %(default)s)",
    )
    usage.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    usage.set_defaults(run=_usage)


def _usage(args: argparse.Namespace) -> int:
    from bot.cli._db import with_storage
    from bot.clock import SystemClock
    from bot.core.validation import month_start, parse_day
    from bot.settings.config import load_settings

    today = SystemClock().now().date()
    start = parse_day(args.from_day, month_start(today), "from")
    end = parse_day(args.to_day, today, "to")

    async def read(storage: Storage) -> UsageReport:
        return await storage.usage.report(start, end, channel=args.channel, group_by=args.group_by)

    report = with_storage(load_settings(args.config), read, create=False)
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0


def render(report: UsageReport) -> str:
    """A plain table: one line per day (or account) and channel, then totals."""
    key = "day" if report.group_by == "day" else "account_id"
    lines = [
        f"usage {report.from_day} .. {report.to_day}",
        f"{key:<24} {'channel':<20} sent updated urgent_sms urgent_phone",
    ]
    for row in report.rows:
        lines.append(_line(getattr(row, key) or "", row.channel, row.model_dump()))
    for channel, counts in sorted(report.totals.items()):
        lines.append(_line("total", channel, counts))
    if not report.rows:
        lines.append("(no messages)")
    return "\n".join(lines)


def _line(key: str, channel: str, counts: dict[str, Any]) -> str:
    return (
        f"{key:<24} {channel:<20} {counts['sent']:>4} {counts['updated']:>7} "
        f"{counts['urgent_sms']:>10} {counts['urgent_phone']:>12}"
    )
