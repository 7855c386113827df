"""Submit an approval request to the gateway, signed, resending under the same request id.

    python -m examples.submit ticket.json --url http://127.0.0.1:8080 \
        --secret-file data/backend_secret [--request-id req_...] [--attempts 5]

What it does with each answer is the README's table: a ``2xx`` is done (``Idempotent-Replayed:
true`` says it is the kept answer of an earlier send); a timeout, a connection error or a ``5xx``
is *not known to be done*, so the very same request is sent again under the **same request id**
(re-signed, so a late retry is inside the signature window) with exponential backoff: the gateway
acts on it at most once. Any other ``4xx`` is final and printed. The answer body goes to stdout as
one JSON line; the exit status is 0 for a ``2xx``, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from examples.signing import REQUEST_ID, Rfc9421Signer, new_request_id

RETRYABLE = frozenset({500, 502, 503, 504})


def submit(
    client: httpx.Client,
    ticket: bytes,
    request_id: str,
    attempts: int = 5,
    backoff: float = 0.5,
) -> httpx.Response:
    """POST ``ticket`` until an answer is known, each try under ``request_id``.

    The last answer is returned; ``httpx.TransportError`` is raised when no try got one.
    """
    headers = {"Content-Type": "application/json", REQUEST_ID: request_id}
    for attempt in range(1, attempts + 1):
        try:
            response = client.post("/v1/approvals", content=ticket, headers=headers)
        except httpx.TransportError:  # timeout, refused, reset: the outcome is unknown
            if attempt == attempts:
                raise
        else:
            if response.status_code not in RETRYABLE or attempt == attempts:
                return response
        # Full jitter keeps many backends from resending in step after a gateway restart.
        time.sleep(random.uniform(0, backoff * 2 ** (attempt - 1)))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _secret(path: Path | None) -> str:
    if path is not None:
        return path.read_text().strip()
    secret = os.environ.get("APPROVAL_GATEWAY_BACKEND_SECRET", "").strip()
    if not secret:
        sys.exit("give --secret-file or set APPROVAL_GATEWAY_BACKEND_SECRET")
    return secret


def _report(response: httpx.Response) -> dict[str, Any]:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return {
        "status": response.status_code,
        "request_id": response.request.headers[REQUEST_ID],
        "replayed": response.headers.get("idempotent-replayed") == "true",
        "body": body,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, submit, print the answer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("ticket", type=Path, help="the approval request, as JSON")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway")
    parser.add_argument("--secret-file", type=Path, help="the whsec_ backend secret")
    parser.add_argument("--request-id", help="reuse it to resend the same request")
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per try")
    args = parser.parse_args(argv)
    signer = Rfc9421Signer(_secret(args.secret_file))
    request_id = args.request_id or new_request_id()
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [signer]}
    with httpx.Client(base_url=args.url, timeout=args.timeout, event_hooks=hooks) as client:
        try:
            response = submit(client, args.ticket.read_bytes(), request_id, args.attempts)
        except httpx.TransportError as exc:
            print(json.dumps({"error": f"no answer: {exc!r}", "request_id": request_id}))
            return 1
    print(json.dumps(_report(response), ensure_ascii=False))
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
