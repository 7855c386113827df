"""``approval-gateway bindings``: admins manage identity bindings from the command line.

Works on the database directly (the same file a running gateway uses; SQLite serialises the
writes). Only argparse is imported at the top: the store loads when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli._db import now, who
from bot.cli._http import add_connection_args

if TYPE_CHECKING:
    from bot.cli._group import Subparsers
    from bot.core.storage import Binding, BindingRepo

CSV_COLUMNS = ("account_id", "channel", "address")


def add_commands(subparsers: Subparsers) -> None:
    """Register ``bindings list|show|set|remove|import|export|lookup``."""
    group = subparsers.add_parser("bindings", help="account ↔ chat/email identity bindings")
    cmd = group.add_subparsers(dest="bindings_command", required=True, metavar="COMMAND")
    listing = cmd.add_parser("list", help="every binding (optionally of one channel)")
    listing.add_argument("--channel", help="only this channel's bindings")
    listing.add_argument(
        "--unbound", action="store_true", help="with --channel: accounts not bound on it"
    )
    listing.set_defaults(run=_run(_list, create=False))
    show = cmd.add_parser("show", help="one account's bindings")
    show.add_argument("account_id", help="the account id the backend uses")
    show.set_defaults(run=_run(_show, create=False))
    put = cmd.add_parser("set", help="bind an account on a channel")
    put.add_argument("account_id", help="the account id the backend uses")
    put.add_argument("--channel", required=True, help="e.g. lark, dingtalk, email")
    put.add_argument(
        "--address", required=True, help="the user's id on the channel, or an email address"
    )
    put.add_argument(
        "--verified",
        action="store_true",
        help="email: the address is known good (no confirmation code is mailed)",
    )
    add_connection_args(put)  # an unverified email goes through the gateway, which mails it
    put.set_defaults(run=_run(_set))
    remove = cmd.add_parser("remove", help="unbind an account on a channel")
    remove.add_argument("account_id", help="the account id the backend uses")
    remove.add_argument("--channel", required=True, help="the channel to unbind")
    remove.set_defaults(run=_run(_remove))
    load = cmd.add_parser("import", help="bind every row of a CSV (account_id,channel,address)")
    load.add_argument("file", type=Path, help="CSV with a header row account_id,channel,address")
    load.add_argument(
        "--verified-emails",
        action="store_true",
        help="the file's email addresses are known good (required when it has any)",
    )
    load.set_defaults(run=_run(_import))
    cmd.add_parser("export", help="every binding as CSV on stdout").set_defaults(
        run=_run(_export, create=False)
    )
    find = cmd.add_parser("lookup", help="ask the platform for a user (proposes a binding)")
    who = find.add_mutually_exclusive_group(required=True)
    who.add_argument("--lark-email", help="find the Lark user with this email")
    who.add_argument("--dingtalk-mobile", help="find the DingTalk user with this mobile number")
    # A metavar: argparse otherwise lists the choices to build every parser, loading the
    # registry (and the settings models) for any command at all, --help included.
    find.add_argument(
        "--channel", choices=_ChatPlatforms(), metavar="CHANNEL", help="one of %(choices)s"
    )
    find.add_argument("--apply", metavar="ACCOUNT", help="bind the user found to ACCOUNT")
    add_connection_args(find)
    find.set_defaults(run=_lookup)


class _ChatPlatforms:
    """The registry's chat platforms as argparse choices, read only when argparse asks: the
    registry loads the settings models, which ``--help`` should not pay for."""

    def _names(self) -> list[str]:
        from bot.channels.registry import chat_platforms

        return chat_platforms()

    def __contains__(self, item: object) -> bool:
        return item in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def _run(work: Any, *, create: bool = True) -> Any:
    """Wrap ``work(args, repo) -> int`` as a CLI command with an open store (``create``: see
    :func:`bot.cli._db.with_store`)."""

    def command(args: argparse.Namespace) -> int:
        from bot.cli._db import with_storage
        from bot.settings.config import load_settings

        result: int = with_storage(
            load_settings(args.config),
            lambda storage: work(args, storage.bindings),
            create=create,
        )
        return result

    return command


def _line(b: Binding) -> str:
    when = b.bound_at.strftime("%Y-%m-%d %H:%M")
    return f"{b.account_id}\t{b.channel}\t{b.address}\t{b.method}\t{b.bound_by}\t{when}"


async def _list(args: argparse.Namespace, repo: BindingRepo) -> int:
    if args.unbound and not args.channel:
        from bot.errors import InvalidInput

        raise InvalidInput("--unbound needs --channel")
    cursor: str | None = None
    while True:
        page = await repo.list(channel=args.channel, limit=500, cursor=cursor, unbound=args.unbound)
        for binding in page.items:
            print(_line(binding))
        if page.next_cursor is None:
            return 0
        cursor = page.next_cursor


async def _show(args: argparse.Namespace, repo: BindingRepo) -> int:
    found = await repo.get(args.account_id)
    for binding in found:
        print(_line(binding))
    if not found:
        print(f"{args.account_id} has no bindings", file=sys.stderr)
    return 0 if found else 1


async def _set(args: argparse.Namespace, repo: BindingRepo) -> int:
    from bot.core.validation import check_binding

    address = check_binding(args.account_id, args.channel, args.address)
    if args.channel == "email" and not args.verified:
        return _request_email(args, address)
    method = "admin-verified" if args.channel == "email" else "admin-cli"
    binding = await repo.set(
        args.account_id, args.channel, address, by=who(), method=method, at=now()
    )
    print(_line(binding))
    return 0


def _request_email(args: argparse.Namespace, address: str) -> int:
    """Through the running gateway: it mails the code; the address waits until confirmed."""
    from urllib.parse import quote

    from bot.cli._http import call

    body = {"channel": "email", "address": address}
    answer = call(args, "PUT", f"/v1/bindings/{quote(args.account_id, safe='')}", body)
    print(f"{args.account_id}\temail\tpending confirmation until {answer['expires_at']}")
    return 0


def _lookup(args: argparse.Namespace) -> int:
    """Print the proposed binding; with ``--apply ACCOUNT`` also make it."""
    from urllib.parse import quote

    from bot.cli._http import call

    body = {"lark_email": args.lark_email, "dingtalk_mobile": args.dingtalk_mobile}
    if args.channel:
        body["channel"] = args.channel
    found = call(args, "POST", "/v1/bindings/lookup", body)
    if not found["found"]:
        print(f"no {found['channel']} user found", file=sys.stderr)
        return 1
    account = args.apply or "ACCOUNT"
    print(f"{account}\t{found['channel']}\t{found['address']}")
    if args.apply:
        path = f"/v1/bindings/{quote(args.apply, safe='')}"
        call(args, "PUT", path, {"channel": found["channel"], "address": found["address"]})
        print(f"bound {args.apply} on {found['channel']}")
    else:
        print(f"not applied; to bind: --apply {account}", file=sys.stderr)
    return 0


async def _remove(args: argparse.Namespace, repo: BindingRepo) -> int:
    from bot.errors import NotFound

    if not await repo.remove(args.account_id, args.channel, by=who(), at=now()):
        raise NotFound(f"{args.account_id} has no {args.channel} binding")
    print(f"{args.account_id} unbound on {args.channel}")
    return 0


async def _import(args: argparse.Namespace, repo: BindingRepo) -> int:
    rows = _read_csv(args.file)
    if not args.verified_emails and any(channel == "email" for _, channel, _ in rows):
        from bot.errors import InvalidInput

        # Mailing a code to every row of a bulk load is rarely meant: the admin says which.
        raise InvalidInput(
            f"{args.file} has email addresses: pass --verified-emails if they are known good, "
            "or set each with 'bindings set' to mail a confirmation code"
        )
    count = await repo.set_many(rows, by=who(), method="import", at=now())
    print(f"imported {count} bindings from {args.file}")
    return 0


def _read_csv(path: Path) -> list[tuple[str, str, str]]:
    """Every row checked before anything is written; InvalidInput names the bad line."""
    import csv

    from bot.core.validation import check_binding
    from bot.errors import ConfigError, InvalidInput

    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    rows: list[tuple[str, str, str]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise InvalidInput(f"{path}: the header must be {','.join(CSV_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                account_id, channel = (
                    (row["account_id"] or "").strip(),
                    (row["channel"] or "").strip(),
                )
                rows.append(
                    (account_id, channel, check_binding(account_id, channel, row["address"] or ""))
                )
            except InvalidInput as exc:
                problems = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
                raise InvalidInput(f"{path} line {line}: {problems}") from None
    return rows


async def _export(args: argparse.Namespace, repo: BindingRepo) -> int:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = await repo.list(limit=500, cursor=cursor)
        writer.writerows((b.account_id, b.channel, b.address) for b in page.items)
        if page.next_cursor is None:
            return 0
        cursor = page.next_cursor
