"""``approval-gateway sign``: the RFC 9421 headers for one call to the gateway's backend API.

Prints one ``Name: value`` line per header, ready for ``curl -H @file``. The secret is the one the
gateway uses: ``APPROVAL_GATEWAY_BACKEND_SECRET``, else ``DATA_DIR/backend_secret`` (never
generated here), unless ``--secret-file`` names another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``sign``."""
    sign = subparsers.add_parser("sign", help="print the signature headers for one API call")
    sign.add_argument("method", help="GET, POST, PUT or DELETE")
    sign.add_argument(
        "path", help="path and query exactly as sent, e.g. /v1/me/binding?account_id=a1"
    )
    sign.add_argument("--body-file", type=Path, help="the exact body bytes to send ('-': stdin)")
    sign.add_argument(
        "--id", dest="request_id", help="request id (reuse it to resend); default: new"
    )
    sign.add_argument("--secret-file", type=Path, help="file holding the whsec_ backend secret")
    sign.set_defaults(run=_sign)


def _sign(args: argparse.Namespace) -> int:
    from bot.backend.signing import sign_request
    from bot.errors import ConfigError

    body = _body(args.body_file)
    try:
        headers = sign_request(
            _secret(args), args.method, args.path, body, request_id=args.request_id
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if body:
        headers = {"Content-Type": "application/json", **headers}
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def _body(path: Path | None) -> bytes:
    if path is None:
        return b""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    from bot.errors import ConfigError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the body file: {exc.strerror}") from None


def _secret(args: argparse.Namespace) -> str:
    from bot.errors import ConfigError
    from bot.settings.config import SECRET_FILE, load_settings

    if args.secret_file is not None:
        path: Path = args.secret_file
    else:
        settings = load_settings(args.config)
        if settings.backend_secret is not None:
            return settings.backend_secret.get_secret_value()
        path = settings.data_dir / SECRET_FILE
    try:
        secret: str = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the backend secret {path}: {exc.strerror}") from None
    if not secret:
        raise ConfigError(f"the backend secret file {path} is empty")
    return secret
