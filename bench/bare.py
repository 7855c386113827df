"""The same-run baseline: a bare aiohttp endpoint doing only what intake cannot avoid.

``POST /v1/approvals`` checks the RFC 9421 signature with the gateway's own verifier and
validates the body with the gateway's own pydantic model, then answers 202 without storing
anything; ``GET /ping`` is an empty answer (the loopback round trip). Prints its URL as one
JSON line, runs until SIGTERM. The secret comes from ``BENCH_SECRET``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from aiohttp import web

from bot.clock import SystemClock
from bot.core.models import ApprovalRequest
from bot.http.signatures import RequestVerifier


def app(secret: str) -> web.Application:
    """The baseline application."""
    verifier = RequestVerifier(secret, SystemClock())

    async def accept(request: web.Request) -> web.Response:
        signed = await verifier.verify(request)
        ticket = ApprovalRequest.model_validate_json(signed.body)
        return web.json_response({"ticket_id": ticket.ticket_id}, status=202)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post("/v1/approvals", accept)
    application.router.add_get("/ping", ping)
    return application


async def serve(secret: str) -> None:
    """Serve on a free loopback port until SIGTERM."""
    runner = web.AppRunner(app(secret), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(os.environ["BENCH_SECRET"]))
    sys.exit(0)
