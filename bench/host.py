"""A gateway process of a benchmark run: ``serve``, plus a control port.

It starts exactly what ``approval-gateway serve`` starts (settings from the
``APPROVAL_GATEWAY_*`` environment the driver sets, ``bot.app.launch.start``): the real Lark,
DingTalk and email channels pointed at the shared sandbox platforms process
(``bench.platforms``) and its backend, and, with the sandbox on for it alone, the in-process
memory channel that takes the intake phases' cards. The control API on another loopback port
tells the load driver how many cards the memory channel holds. It prints one JSON line with its
addresses, then runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from aiohttp import web

from bot.app import launch
from bot.http.listen import bind
from bot.settings.config import Settings, load_settings
from sandbox.embedded import Embedded


class Control:
    """The control API over one running gateway: what its in-process memory channel holds."""

    def __init__(self, embedded: Embedded) -> None:
        self._embedded = embedded

    def routes(self) -> list[web.RouteDef]:
        """The control routes."""
        return [web.get("/memory", self.memory)]

    async def memory(self, request: web.Request) -> web.Response:
        """How many cards the memory channel holds (the intake phases' cards)."""
        channel = self._embedded.memory
        return web.json_response({"cards": len(channel.cards) if channel else 0})


async def serve(settings: Settings) -> None:
    """Start the gateway and the control port, announce both, run until SIGTERM."""
    sockets = bind(settings.host, settings.port)
    async with await launch.start(settings, sockets) as running:
        assert isinstance(running, Embedded), "the bench host needs the sandbox on (memory)"
        control = Control(running)
        app = web.Application()
        app.add_routes(control.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        announce = {
            "gateway": running.gateway.url,
            "control": f"http://127.0.0.1:{port}",
        }
        print(json.dumps(announce), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()


def main() -> int:
    """Entry point: ``python -m bench.host`` (settings from the environment)."""
    settings = load_settings(None)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
