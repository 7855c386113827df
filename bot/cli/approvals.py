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
    show = cmd.add_parser(
        "show", help="state, deliveries with history, stages and votes, who is awaited, steps"
    )
    show.add_argument("ticket_id", help="the ticket id the backend submitted")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    """Print the request as the API's JSON; NotFound when there is none."""
    import json

    from bot.cli._db import with_storage
    from bot.core.service import read_trace
    from bot.http.schemas import ApprovalOut
    from bot.settings.config import load_settings

    async def show(storage: Storage) -> str:
        async with storage.store.snapshot() as uow:
            trace = await read_trace(uow, args.ticket_id)
        return json.dumps(
            ApprovalOut.of(trace).model_dump(mode="json"), indent=2, ensure_ascii=False
        )

    print(with_storage(load_settings(args.config), show, create=False))
    return 0
