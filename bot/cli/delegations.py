"""``approval-gateway delegations list|set|clear``: who acts for an approver away.

Works on the database directly, as ``preferences`` does; the running gateway reads delegations
when it plans each card, so a change applies to the next card without a restart. The rules are
the API's (:func:`bot.core.delegation.check`): a refusal names the field and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli._db import Storage, on_store, who

if TYPE_CHECKING:
    from bot.cli._group import Subparsers
    from bot.core.delegating import Delegations


def add_commands(subparsers: Subparsers) -> None:
    """Register ``delegations list|set|clear``."""
    group = subparsers.add_parser("delegations", help="who acts for an approver away")
    cmd = group.add_subparsers(dest="delegations_command", required=True, metavar="COMMAND")
    list_ = cmd.add_parser("list", help="delegations now and ahead")
    list_.add_argument("account_id", nargs="?", help="only this approver's")
    list_.set_defaults(run=on_store(_list, create=False))
    put = cmd.add_parser("set", help="name a delegate for a window")
    put.add_argument("account_id", help="the approver away")
    put.add_argument("delegate_id", help="who acts for them")
    put.add_argument("--until", required=True, help="end, ISO 8601 with offset")
    put.add_argument("--from", dest="start", help="start, ISO 8601 with offset (default: now)")
    put.set_defaults(run=on_store(_set))
    clear = cmd.add_parser("clear", help="end an approver's delegations now and ahead")
    clear.add_argument("account_id", help="the approver")
    clear.set_defaults(run=on_store(_clear))


def _service(storage: Storage) -> Delegations:
    from bot.clock import SystemClock
    from bot.core.delegating import Delegations

    return Delegations(storage.store, SystemClock())


def _when(field: str, text: str) -> datetime:
    from bot.errors import InvalidInput

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field}: not an ISO 8601 time: {text!r}", {field: "ISO 8601"}
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field}: give a UTC offset ({text}+08:00)", {field: "offset"})
    return moment


async def _list(args: argparse.Namespace, storage: Storage) -> int:
    found = await _service(storage).list(args.account_id)
    for d in found:
        span = f"{d.starts_at.isoformat()}\t{d.ends_at.isoformat()}"
        print(f"{d.account_id}\t{d.delegate_id}\t{span}\t{d.set_by}")
    if not found:
        print("no delegations now or ahead")
    return 0


async def _set(args: argparse.Namespace, storage: Storage) -> int:
    from bot.core.validation import check_account
    from bot.errors import InvalidInput

    start = _when("from", args.start) if args.start else None
    try:
        d = await _service(storage).set(
            check_account(args.account_id),
            check_account(args.delegate_id),
            _when("until", args.until),
            starts_at=start,
            by=who(),
            source="cli",
        )
    except InvalidInput as exc:  # the rule's field detail (the cycle, the overlap) is the point
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        print(f"error: {exc.message} ({detail})", file=sys.stderr)
        return 2
    print(f"{d.account_id}\t{d.delegate_id}\t{d.starts_at.isoformat()}\t{d.ends_at.isoformat()}")
    return 0


async def _clear(args: argparse.Namespace, storage: Storage) -> int:
    from bot.core.validation import check_account

    dropped = await _service(storage).clear(check_account(args.account_id), by=who(), source="cli")
    print(f"{dropped} delegation{'s' if dropped != 1 else ''} cleared")
    return 0
