"""The gateway process of a benchmark run: ``serve`` with the sandbox on, plus a control port.

It starts exactly what ``approval-gateway serve`` starts in the embedded deployment (settings
from the ``APPROVAL_GATEWAY_*`` environment the driver sets, ``bot.launch.start``), then serves
a control API on another loopback port, through which the load driver (another process) seats
sandbox users, sets the sandbox platforms' rate limits, presses card buttons over the platform's
real long connection and reads the stamps of cards and decisions. It prints one JSON line with
its addresses, then runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

from aiohttp import web

from bench.stamps import Journal, StampedDecisions, stamping_create
from bot import launch
from bot.config import Settings, ensure_backend_secret, load_settings
from bot.core.models import ClickAction
from bot.http.listen import bind
from sandbox.dingtalk_platform import DingTalkPlatform
from sandbox.embedded import Embedded
from sandbox.lark_platform import LarkPlatform
from sandbox.platform import Seat


class Control:
    """The control API over one running embedded deployment."""

    def __init__(self, embedded: Embedded, journal: Journal) -> None:
        self._embedded = embedded
        self._journal = journal
        self._seats: dict[tuple[str, str], Seat] = {}

    def routes(self) -> list[web.RouteDef]:
        """The control routes."""
        return [
            web.post("/seat", self.seat),
            web.post("/limits", self.limits),
            web.post("/click", self.click),
            web.get("/cards", self.cards),
            web.get("/decisions", self.decisions),
            web.get("/lark/log", self.lark_log),
            web.get("/memory", self.memory),
            web.get("/dingtalk/log", self.dingtalk_log),
            web.post("/dingtalk/held", self.dingtalk_held),
        ]

    def _lark(self) -> LarkPlatform:
        platform = self._embedded.platform_of("lark")
        assert isinstance(platform, LarkPlatform)
        return platform

    def _dingtalk(self) -> DingTalkPlatform:
        platform = self._embedded.platform_of("dingtalk")
        assert isinstance(platform, DingTalkPlatform)
        return platform

    async def seat(self, request: web.Request) -> web.Response:
        """Seat the given accounts on one channel (a sandbox user, bound to the account)."""
        body = await request.json()
        channel = str(body["channel"])
        for account in body["accounts"]:
            seat = await self._embedded.seat(channel, str(account), f"User {account}")
            self._seats[(channel, str(account))] = seat
        return web.json_response({"seated": len(body["accounts"])})

    async def limits(self, request: web.Request) -> web.Response:
        """Enforce (or lift, with null) the sandbox Lark's per-app and per-user limits."""
        body = await request.json()
        app = self._lark().app()
        app.limit_app_qps(body.get("lark_app_qps"))
        app.limit_user_qps(body.get("lark_user_qps"))
        self._dingtalk().sandboxes["dingtalk"].limit_qps(body.get("dingtalk_qps"))
        return web.json_response({"ok": True})

    async def click(self, request: web.Request) -> web.Response:
        """Press a card button as the seated account; stamped when the press starts."""
        body = await request.json()
        seat = self._seats[(str(body["channel"]), str(body["account_id"]))]
        platform = self._embedded.platform_of(seat.channel)
        at = time.time()
        outcome = await platform.click(
            seat, str(body["delivery_id"]), ClickAction(body.get("action", "approve"))
        )
        return web.json_response({"at": at, "answered": time.time() - at, "failed": outcome.failed})

    async def cards(self, request: web.Request) -> web.Response:
        """Cards created since index ``since``: [delivery_id, address, at] each."""
        since = int(request.query.get("since", "0"))
        rows = [c.row() for c in self._journal.cards[since:]]
        return web.json_response(
            {"cards": rows, "next": since + len(rows), "duplicates": self._journal.duplicates}
        )

    async def decisions(self, request: web.Request) -> web.Response:
        """Decisions received since index ``since``, and every webhook attempt so far."""
        since = int(request.query.get("since", "0"))
        rows = self._journal.decisions[since:]
        backend = self._embedded.backend
        attempts = [[a.webhook_id, a.status] for a in backend.attempts] if backend else []
        return web.json_response(
            {"decisions": rows, "next": since + len(rows), "attempts": attempts}
        )

    async def lark_log(self, request: web.Request) -> web.Response:
        """The sandbox Lark's OpenAPI log since ``since``: [method, path, status, code, at]."""
        since = int(request.query.get("since", "0"))
        log = self._lark().app().requests_log[since:]
        rows = [[r.method, r.path, r.status, r.code, r.at] for r in log]
        return web.json_response({"log": rows, "next": since + len(rows)})

    async def memory(self, request: web.Request) -> web.Response:
        """How many cards the memory channel holds (the intake phases' cards)."""
        channel = self._embedded.memory
        return web.json_response({"cards": len(channel.cards) if channel else 0})

    async def dingtalk_log(self, request: web.Request) -> web.Response:
        """The sandbox DingTalk app's business calls since ``since``: [method, path, status, at]."""
        since = int(request.query.get("since", "0"))
        log = self._dingtalk().sandboxes["dingtalk"].calls_log[since:]
        return web.json_response({"log": [list(r) for r in log], "next": since + len(log)})

    async def dingtalk_held(self, request: web.Request) -> web.Response:
        """The delivery ids of the cards each given DingTalk account holds."""
        body = await request.json()
        platform = self._dingtalk()
        held = {
            str(a): [c.delivery_id for c in platform.held(self._seats[("dingtalk", str(a))])]
            for a in body["accounts"]
        }
        return web.json_response({"held": held})


def instrument(embedded: Embedded) -> Journal:
    """Stamp the sandbox Lark's card creations and the sandbox backend's decisions."""
    journal = Journal()
    store = embedded.platform_of("lark").app().store  # type: ignore[attr-defined]
    # An instance attribute shadows the method: the sandbox's own code path stays unchanged.
    store.create_message = stamping_create(journal, store.create_message)
    if embedded.backend is not None:
        embedded.backend.decisions = StampedDecisions(journal)
    return journal


async def serve(settings: Settings) -> None:
    """Start the gateway and the control port, announce both, run until SIGTERM."""
    sockets = bind(settings.host, settings.port)
    async with await launch.start(settings, sockets) as running:
        assert isinstance(running, Embedded), "the bench host needs the sandbox on"
        control = Control(running, instrument(running))
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
            "secret": ensure_backend_secret(settings),
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
