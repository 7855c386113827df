"""``approval-gateway audit``: read the audit log from the database, newest first.

Reads the database file directly, like ``approvals show`` and ``usage``: the log must be readable
when the gateway is down (that is often when it is needed), and whoever can read the data
directory can read the log already.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._db import Storage
    from bot.cli._group import Subparsers
    from bot.core.storage import AuditPage


def add_commands(subparsers: Subparsers) -> None:
    """Register ``audit [--action --actor --target --from --to --limit --before --json]``."""
    audit = subparsers.add_parser("audit", help="the audit log, newest first")
    audit.add_argument("--action", help="e.g. decision, click.refused, binding.set, token.create")
    audit.add_argument("--actor", help="who did it (account, token id, cli:user, system)")
    audit.add_argument("--target", help="e.g. a ticket id, account/channel, token id")
    audit.add_argument("--from", dest="from_", help="ISO date or time (UTC), inclusive")
    audit.add_argument("--to", help="ISO date or time (UTC), inclusive")
    audit.add_argument("--limit", type=int, default=100, help="at most this many (%(default)s)")
    audit.add_argument("--before", type=int, help="continue a page: records older than this id")
    audit.add_argument("--json", action="store_true", help="the API's JSON instead of lines")
    audit.set_defaults(run=_audit)


def _audit(args: argparse.Namespace) -> int:
    from bot.cli._db import with_storage
    from bot.core.validation import parse_bound
    from bot.settings.config import load_settings

    since = parse_bound(args.from_, "from", end=False)
    until = parse_bound(args.to, "to", end=True)

    async def read(storage: Storage) -> AuditPage:
        return await storage.audit.page(
            limit=max(1, args.limit),
            before=args.before,
            action=args.action,
            who=args.actor,
            target=args.target,
            since=since,
            until=until,
        )

    page = with_storage(load_settings(args.config), read, create=False)
    print(page.model_dump_json(indent=2) if args.json else render(page))
    return 0


def render(page: AuditPage) -> str:
    """One line per record; the id to pass as ``--before`` for more, if any."""
    lines = [
        f"{e.id:>6} {e.at:%Y-%m-%d %H:%M:%S} {e.who:<20} {e.action:<18} {e.target:<28} "
        f"{e.detail} [{e.source}]"
        for e in page.items
    ]
    if page.next_before is not None:
        lines.append(f"more: --before {page.next_before}")
    return "\n".join(lines) if lines else "(no records)"
