"""``approval-gateway approvals show TICKET``: a request's trace, read from the database.

Reads the database file directly: a trace is wanted when something went wrong, possibly with
the gateway stopped, and whoever can read the data directory can read the store anyway.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._db import Storage
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``approvals show``."""
    group = subparsers.add_parser("approvals", help="inspect approval requests")
    cmd = group.add_subparsers(dest="approvals_command", required=True, metavar="COMMAND")
    show = cmd.add_parser("show", help="state, deliveries with history, decision")
    show.add_argument("ticket_id", help="the ticket id the backend submitted")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    """Print the request as the API's JSON; NotFound when there is none."""
    import json

    from bot.cli._db import with_storage
    from bot.errors import NotFound
    from bot.http.schemas import ApprovalOut
    from bot.settings.config import load_settings

    async def show(storage: Storage) -> str:
        async with storage.store.snapshot() as uow:
            request = await uow.requests.find(args.ticket_id)
        if request is None:
            raise NotFound(f"no request for ticket {args.ticket_id}")
        return json.dumps(
            ApprovalOut.of(request).model_dump(mode="json"), indent=2, ensure_ascii=False
        )

    print(with_storage(load_settings(args.config), show, create=False))
    return 0
