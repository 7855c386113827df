"""How CLI commands talk to a running gateway: base URL, API token, one JSON call.

Tokens come from a file or the environment, never from the command line, where other users of
the machine could read them in the process list.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

TOKEN_ENV = "APPROVAL_GATEWAY_ADMIN_TOKEN"


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """``--url`` and ``--token-file`` for a command that calls the gateway's API."""
    parser.add_argument("--url", help="the gateway's base URL (default: the listen address)")
    parser.add_argument("--token-file", type=Path, help=f"API token file (or ${TOKEN_ENV})")


def base_url(args: argparse.Namespace) -> str:
    """The gateway's base URL: ``--url``, else the configured listen address."""
    if args.url:
        return str(args.url).rstrip("/")
    from bot.settings.config import load_settings

    return "http://" + str(load_settings(args.config).listen)


def token(args: argparse.Namespace) -> str:
    """The API token, from ``--token-file`` or the environment (never from argv)."""
    from bot.errors import ConfigError

    if args.token_file is not None:
        return Path(args.token_file).read_text().strip()
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"an API token is needed: --token-file FILE or ${TOKEN_ENV}")
    return token


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    """One API call; the API's error message becomes a GatewayError (exit 2)."""
    import urllib.error
    import urllib.request

    from bot.errors import GatewayError

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url(args) + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {token(args)}")
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        error = json.loads(exc.read() or b"{}").get("error", {})
        fields = "; ".join(f"{k}: {v}" for k, v in (error.get("fields") or {}).items())
        raise GatewayError(
            f"{exc.code} {error.get('message', exc.reason)} {fields}".strip()
        ) from None
    except urllib.error.URLError as exc:
        raise GatewayError(f"cannot reach the gateway at {base_url(args)}: {exc.reason}") from None
