"""``approval-gateway channels list|notice|authorize|revoke``: consent per channel, over HTTP.

Talks to the running gateway (``--url``, default the configured listen address) with an admin
token from ``--token-file`` or ``APPROVAL_GATEWAY_ADMIN_TOKEN``. Secrets are read from files or
stdin (``-``), never from the command line, where ``ps`` and shell history would keep them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli._http import add_connection_args, call

if TYPE_CHECKING:
    from bot.cli._group import Subparsers

# flag -> credential field; "*_file" flags name a file (or "-") holding a secret.
PLAIN_FLAGS = ("app_id", "client_id", "robot_code", "host", "port", "security", "username")
SECRET_FLAGS = ("app_secret", "client_secret", "password", "encrypt_key", "verification_token")


def add_commands(subparsers: Subparsers) -> None:
    """Register ``channels list|notice|authorize|revoke``."""
    group = subparsers.add_parser("channels", help="authorize channels (consent and credentials)")
    cmd = group.add_subparsers(dest="channels_command", required=True, metavar="COMMAND")
    listing = cmd.add_parser("list", help="each channel's state, consent and health")
    notice = cmd.add_parser("notice", help="print a channel's notice")
    notice.add_argument("channel", help="e.g. lark, dingtalk, email")
    grant = cmd.add_parser("authorize", help="read the notice, confirm, authorize")
    grant.add_argument("channel", help="e.g. lark, dingtalk, email")
    grant.add_argument("--yes", action="store_true", help="accept the notice without asking")
    grant.add_argument(
        "--paid-urgency",
        action="store_true",
        help="also accept SMS and phone urgency, charged by the platform to the tenant",
    )
    for flag in PLAIN_FLAGS:
        grant.add_argument(
            "--" + flag.replace("_", "-"),
            dest=flag,
            help=f"the credential's {flag} (where it has one)",
        )
    for flag in SECRET_FLAGS:
        grant.add_argument(
            f"--{flag.replace('_', '-')}-file", dest=flag, type=Path, help="file, or - for stdin"
        )
    revoke = cmd.add_parser("revoke", help="stop the channel and delete its credential")
    revoke.add_argument("channel", help="e.g. lark, dingtalk, email")
    for parser, run in (
        (listing, _list),
        (notice, _notice),
        (grant, _authorize),
        (revoke, _revoke),
    ):
        add_connection_args(parser)
        parser.set_defaults(run=run)


def _list(args: argparse.Namespace) -> int:
    for c in call(args, "GET", "/v1/channels"):
        who = f"{c['authorized_by']} {c['authorized_at'][:16]}" if c["authorized_by"] else "-"
        health = (c.get("health") or {}).get("detail", "stopped") if c["running"] else "stopped"
        stale = "" if c["notice_current"] or c["state"] != "authorized" else " (notice changed)"
        print(f"{c['channel']:<20} {c['state']:<12} {who:<36} {health}{stale}")
    return 0


def _print_notice(notice: dict[str, Any]) -> None:
    billing = notice["billing"]
    print(f"Channel {notice['channel']} — notice version {notice['version']}\n")
    print(notice["uses"] + "\n")
    print(
        f"Billing, per {billing['unit']}: platform {billing['platform_per_message']} "
        f"{billing['currency']}, deployment {billing['deployment_per_message']} "
        f"{billing['currency']}. {billing['note']}."
    )
    urgency = billing.get("urgency")
    if urgency:
        print(
            f"Paid urgency, per {urgency['unit']}: SMS {urgency['sms']} {billing['currency']}, "
            f"phone {urgency['phone']} {billing['currency']}, charged by "
            f"{urgency['charged_by']}: {urgency['note']} (accept with --paid-urgency)."
        )


def _notice(args: argparse.Namespace) -> int:
    _print_notice(call(args, "GET", f"/v1/channels/{args.channel}/authorization"))
    return 0


def _read_secret(path: Path) -> str:
    return sys.stdin.readline().strip() if str(path) == "-" else path.read_text().strip()


def _credentials(args: argparse.Namespace) -> dict[str, str]:
    values = {f: str(getattr(args, f)) for f in PLAIN_FLAGS if getattr(args, f) is not None}
    values |= {f: _read_secret(getattr(args, f)) for f in SECRET_FLAGS if getattr(args, f)}
    return values


def _authorize(args: argparse.Namespace) -> int:
    notice = call(args, "GET", f"/v1/channels/{args.channel}/authorization")
    _print_notice(notice)
    if not args.yes:
        answer = input(f"\nAuthorize the gateway to use {args.channel} as described? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not authorized", file=sys.stderr)
            return 1
    body: dict[str, Any] = {"accept_notice": True, "notice_version": notice["version"]}
    if args.paid_urgency:
        body["paid_urgency"] = True
    credentials = _credentials(args)
    if credentials:
        body["credentials"] = credentials
    result = call(args, "POST", f"/v1/channels/{args.channel}/authorization", body)
    print(f"\n{result['channel']}: {result['state']} ({result['credentials']}; {result['check']})")
    for step in result["next_steps"]:
        print(f"  next: {step}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    result = call(args, "DELETE", f"/v1/channels/{args.channel}/authorization")
    print(f"{result['channel']}: revoked; {result['rerouted']} queued deliveries rerouted")
    return 0
