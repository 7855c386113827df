"""The same-run baselines: bare aiohttp endpoints doing only what intake cannot avoid.

``POST /v1/approvals`` checks what the gateway's intake checks before it stores anything (see
``bot.backend.signing`` and ``bot.http.signatures``): the RFC 9421 signature, HMAC-SHA256 under the
backend secret over ``@method``, ``@path``, ``@query`` and ``content-digest``, with ``keyid``
``backend``, a ``nonce`` and ``created`` inside the ±5 minute window; the RFC 9530 digest of the
raw body; then the body against the gateway's own pydantic model. It answers 202 without storing
anything. Two such endpoints run, on two ports:

- ``url``: at the lowest cost the standard library allows (``hashlib``/``hmac`` and a small hand
  parse of exactly the gateway's own spelling of ``Signature-Input`` and ``Signature``): the
  yardstick a faster gateway verifier is measured against;
- ``library_url``: with the RFC 9421 library's verifier (``bot.http.signatures.LibraryVerifier``),
  what the gateway reads every spelling but its signer's with.

``GET /ping`` is an empty answer (the loopback round trip). Prints both URLs as one JSON line,
runs until SIGTERM. The secret comes from ``BENCH_SECRET``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import time

from aiohttp import web

from bot.backend.signing import NONCE_PATTERN, secret_key
from bot.clock import SystemClock
from bot.core.intake import ApprovalRequest
from bot.http.signatures import LibraryVerifier

WINDOW = 300.0  # seconds either side of now, as the gateway's verifier
# The signer's exact spelling (bot.backend.signing.sign_request): label, covered components in order,
# then created, keyid, alg, nonce. Anything else is refused, as the gateway refuses what it
# cannot verify.
COMPONENTS = '("@method" "@path" "@query" "content-digest")'
INPUT = re.compile(
    r"^sig=(?P<params>" + re.escape(COMPONENTS) + r";created=(?P<created>\d{1,12})"
    r';keyid="backend";alg="hmac-sha256";nonce="(?P<nonce>[^"]*)")$'
)
SIGNATURE = re.compile(r"^sig=:(?P<mac>[A-Za-z0-9+/=]{44}):$")
DIGEST = re.compile(r"^sha-256=:(?P<digest>[A-Za-z0-9+/=]{44}):$")


class Refused(Exception):
    """The request fails a check the gateway also makes."""


class StdlibVerifier:
    """The gateway's signature checks with ``hmac``/``hashlib`` and a hand parse."""

    def __init__(self, secret: str) -> None:
        self._key = secret_key(secret)

    def check(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> str:
        """The verified nonce (request id), or Refused."""
        signed_input = INPUT.match(headers.get("signature-input", ""))
        signature = SIGNATURE.match(headers.get("signature", ""))
        digest = DIGEST.match(headers.get("content-digest", ""))
        if signed_input is None or signature is None or digest is None:
            raise Refused("signature headers missing or not the gateway's spelling")
        if abs(time.time() - int(signed_input["created"])) > WINDOW:
            raise Refused("created is outside the window")
        nonce = signed_input["nonce"]
        if not NONCE_PATTERN.match(nonce):
            raise Refused("malformed nonce")
        if not hmac.compare_digest(
            base64.b64decode(digest["digest"]), hashlib.sha256(body).digest()
        ):
            raise Refused("content-digest does not match the body")
        base = (
            f'"@method": {method}\n"@path": {path}\n"@query": ?{query}\n'
            f'"content-digest": {headers["content-digest"]}\n'
            f'"@signature-params": {signed_input["params"]}'
        )
        mac = hmac.new(self._key, base.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, base64.b64decode(signature["mac"])):
            raise Refused("signature does not match")
        return nonce


def app(secret: str) -> web.Application:
    """The baseline with the standard-library verifier (and ``/ping``)."""
    verifier = StdlibVerifier(secret)

    async def accept(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path, _, query = request.raw_path.partition("?")  # as sent: what the signer signed
        try:
            verifier.check(request.method, path, query, headers, body)
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=401)
        ticket = ApprovalRequest.model_validate_json(body)
        return web.json_response({"ticket_id": ticket.ticket_id}, status=202)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post("/v1/approvals", accept)
    application.router.add_get("/ping", ping)
    return application


def library_app(secret: str) -> web.Application:
    """The baseline with the RFC 9421 library's verifier (the gateway's before it read the
    signer's spelling itself, and still its reference for every other spelling)."""
    verifier = LibraryVerifier(secret, SystemClock())

    async def accept(request: web.Request) -> web.Response:
        raw = request.raw_path
        signed = verifier.check(request.method, raw, request.headers, await request.read())
        ticket = ApprovalRequest.model_validate_json(signed.body)
        return web.json_response({"ticket_id": ticket.ticket_id}, status=202)

    application = web.Application()
    application.router.add_post("/v1/approvals", accept)
    return application


async def _site(application: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def serve(secret: str) -> None:
    """Serve both endpoints on free loopback ports until SIGTERM."""
    runner, url = await _site(app(secret))
    library, library_url = await _site(library_app(secret))
    print(json.dumps({"url": url, "library_url": library_url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await library.cleanup()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(os.environ["BENCH_SECRET"]))
    sys.exit(0)
