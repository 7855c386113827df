"""``approval-gateway cards``: render a card payload, or validate one against platform limits.

Imports of ``cards`` and the models happen inside the commands so ``--help`` stays fast.
``cards send-test`` is not here yet: it needs the real channels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bot.cli._http import add_connection_args, call

if TYPE_CHECKING:
    from bot.cli._group import Subparsers
    from cards.validate import Channel

CHANNELS = ("lark", "dingtalk", "email")
STATES = ("pending", "approved", "rejected", "expired", "withdrawn", "failed", "test")
LOCALES = ("zh-CN", "en-US")


def add_commands(subparsers: Subparsers) -> None:
    """Register ``cards render``, ``validate`` and ``send-test`` on the top-level subparsers."""
    group = subparsers.add_parser("cards", help="render and validate approval cards")
    cards_cmd = group.add_subparsers(dest="cards_command", required=True, metavar="COMMAND")

    render = cards_cmd.add_parser("render", help="print a card payload as JSON")
    render.add_argument("--channel", choices=CHANNELS, required=True, help="whose payload format")
    render.add_argument(
        "--state", choices=STATES, default="pending", help="the card of this state (%(default)s)"
    )
    render.add_argument(
        "--locale", choices=LOCALES, help="default: the ticket's locale, else en-US"
    )
    render.add_argument("--ticket", type=Path, help="approval request JSON as the backend sends it")
    render.set_defaults(run=run_render)

    check = cards_cmd.add_parser("validate", help="check a payload against the platform limits")
    check.add_argument("file", help="payload JSON file, or - for standard input")
    check.add_argument("--channel", choices=CHANNELS, help="default: guessed from the payload")
    check.set_defaults(run=run_validate)

    test = cards_cmd.add_parser(
        "send-test", help="send a test card through the real channel (support role)"
    )
    test.add_argument("--channel", required=True, help="a running channel, e.g. dingtalk or lark")
    test.add_argument("--to", required=True, metavar="ACCOUNT", help="a bound account id")
    test.add_argument(
        "--locale", choices=LOCALES, default="en-US", help="card language (%(default)s)"
    )
    add_connection_args(test)
    test.set_defaults(run=run_send_test)


def run_send_test(args: argparse.Namespace) -> int:
    """Ask the running gateway to send a test card; its buttons only ever answer with a toast."""
    sent = call(
        args,
        "POST",
        "/v1/cards/test",
        {"channel": args.channel, "account_id": args.to, "locale": args.locale},
    )
    print(f"test card sent to {args.to} on {sent['channel']} (delivery {sent['delivery_id']})")
    return 0


def run_render(args: argparse.Namespace) -> int:
    """Print the payload for one channel, state and locale (the sample ticket unless given)."""
    from cards import CardState, Locale, render_dingtalk, render_email, render_lark, sample_view

    state, locale = CardState(args.state), Locale(args.locale) if args.locale else None
    if args.ticket is None:
        # The sample needs the card renderer alone, not the request models bot.ticket_view
        # builds a ticket's view with (a tenth of the command's start-up).
        view = sample_view(state, locale or Locale.EN_US)
    else:
        from bot.ticket_view import parse_ticket, view_for

        ticket = parse_ticket(_read(str(args.ticket)), str(args.ticket))
        view = view_for(state, locale, ticket)
    payload: Any
    if args.channel == "lark":
        payload = render_lark(view)
    elif args.channel == "dingtalk":
        payload = render_dingtalk(view)
    else:
        payload = render_email(view).model_dump()
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Exit 0 when the payload is valid, 1 with every problem listed when it is not."""
    from cards import validate_json

    raw = _read(args.file)
    channel = cast("Channel", args.channel or guess_channel(raw, args.file))
    result = validate_json(channel, raw)
    where = "stdin" if args.file == "-" else args.file
    if result.ok:
        print(f"ok: {where} is a valid {channel} payload ({result.size} of {result.limit} bytes)")
        return 0
    print(f"invalid {channel} payload {where}:", file=sys.stderr)
    for error in result.errors:
        print(f"  - {error}", file=sys.stderr)
    return 1


def guess_channel(raw: str, where: str) -> str:
    """Which platform a payload is for, from its shape; InvalidInput when it cannot tell."""
    from bot.errors import InvalidInput

    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from None
    if isinstance(payload, dict):
        if "schema" in payload or "body" in payload:
            return "lark"
        if {"subject", "html"} <= payload.keys():
            return "email"
        if "actionRef" in payload or "statusText" in payload:
            return "dingtalk"
    raise InvalidInput(f"cannot tell which platform {where} is for; pass --channel")


def _read(path: str) -> str:
    from bot.errors import InvalidInput

    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
