"""``approval-gateway tokens create|list|revoke``: API tokens for admins and support.

Works on the database file directly, so the first admin token can be made before any token
exists. ``list`` only reads and imports no HTTP code: it stays quick, and run from the wrong
directory it says there is no database rather than leave an empty one behind.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli._db import Storage, now, on_store, who

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``tokens create|list|revoke``."""
    group = subparsers.add_parser("tokens", help="API tokens for admins and support")
    cmd = group.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")
    create = cmd.add_parser("create", help="create a token (printed once)")
    create.add_argument(
        "--role", choices=["admin", "support"], required=True, help="what the token may do"
    )
    create.add_argument("--label", default="", help="a note to tell tokens apart in the list")
    create.add_argument(
        "-q", "--quiet", action="store_true", help="print the token alone (for > file or $(...))"
    )
    create.set_defaults(run=on_store(_create))
    listing = cmd.add_parser("list", help="list tokens (never the secret part)")
    listing.set_defaults(run=on_store(_list, create=False))
    revoke = cmd.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id", help="the id `tokens list` shows")
    revoke.set_defaults(run=on_store(_revoke))


async def _create(args: argparse.Namespace, storage: Storage) -> int:
    from bot.http.auth import new_token  # the HTTP layer, and aiohttp with it: not for list

    token = new_token()
    record = await storage.tokens.create(token, args.role, args.label, now(), by=who())
    if args.quiet:
        print(token)
    else:
        print(f"token {record.id} ({record.role}) — shown once, store it now:\n{token}")
    return 0


async def _list(args: argparse.Namespace, storage: Storage) -> int:
    for item in await storage.tokens.list():
        state = f"revoked {item.revoked_at:%Y-%m-%d}" if item.revoked_at else "live"
        print(f"{item.id}  {item.role:<8} {state:<18} {item.label}")
    return 0


async def _revoke(args: argparse.Namespace, storage: Storage) -> int:
    await storage.tokens.revoke(args.token_id, now(), by=who())
    print(f"token {args.token_id} revoked")
    return 0
