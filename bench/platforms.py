"""The sandbox platforms of a benchmark run, in their own process, shared by every gateway.

One sandbox Lark app, one DingTalk app, one ticket backend and one mail catcher (the fault and
replica tests' :class:`tests.faults.harness.Platforms`), so that every gateway replica holds its
own stream connections to the same apps, as replicas do against the real platforms: each click
goes to one randomly chosen connection of the app, and the app's rate limits count the calls of
all replicas together. A control API on another loopback port lets the load driver seat users,
set the enforced limits, press card buttons over the app's streams and read the stamps of cards
created and decisions received. Prints one JSON line with its addresses and the gateway
settings that point at it, then runs until SIGTERM. The backend's secret comes from
``BENCH_SECRET``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

from aiohttp import web

from bench import press as taps
from bench.stamps import (
    Journal,
    StampedDecisions,
    stamping_create,
    stamping_patch,
    stamping_put,
)
from bot.channels.dingtalk.inbound import delivery_of
from sandbox.backend import SandboxBackend
from sandbox.lark.platform import button_values
from sandbox.lark.sandbox import DeliveryError
from sandbox.mail.catcher import MailCatcher
from tests.faults.harness import CLICK_TIMEOUT, Platforms


class Control:
    """The control API over the shared platforms."""

    def __init__(self, platforms: Platforms, journal: Journal) -> None:
        self._p = platforms
        self._journal = journal
        self._addresses: dict[tuple[str, str], str] = {}

    def routes(self) -> list[web.RouteDef]:
        """The control routes."""
        return [
            web.post("/seat", self.seat),
            web.post("/limits", self.limits),
            web.post("/click", self.click),
            web.post("/lark/taps", self.lark_taps),
            web.get("/cards", self.cards),
            web.get("/decisions", self.decisions),
            web.get("/redraws", self.redraws),
            web.get("/lark/log", self.lark_log),
            web.get("/dingtalk/log", self.dingtalk_log),
            web.post("/dingtalk/held", self.dingtalk_held),
        ]

    async def seat(self, request: web.Request) -> web.Response:
        """Add the accounts as users of one platform; their addresses, for the bindings."""
        body = await request.json()
        channel, found = str(body["channel"]), {}
        for account in map(str, body["accounts"]):
            if channel == "lark":
                address = f"ou_{account}"
                self._p.lark.add_user(address, name=f"User {account}")
            else:
                address = f"staff_{account}"
                self._p.dingtalk.add_user(address, name=f"User {account}")
            self._addresses[(channel, account)] = found[account] = address
        return web.json_response({"addresses": found})

    async def limits(self, request: web.Request) -> web.Response:
        """Enforce (or lift, with null) the apps' per-app, per-user and per-API limits."""
        body = await request.json()
        self._p.lark.limit_app_qps(body.get("lark_app_qps"), body.get("lark_app_per_minute"))
        self._p.lark.limit_user_qps(body.get("lark_user_qps"))
        self._p.dingtalk.limit_qps(body.get("dingtalk_qps"))
        return web.json_response({"ok": True})

    async def click(self, request: web.Request) -> web.Response:
        """Press Approve as the seated account, over the app's stream; stamped as it starts."""
        body = await request.json()
        channel = str(body["channel"])
        address = self._addresses[(channel, str(body["account_id"]))]
        at = time.time()
        answered = await self._p.approve(channel, address, str(body["delivery_id"]))
        return web.json_response({"at": at, "answered": time.time() - at, "failed": not answered})

    async def lark_taps(self, request: web.Request) -> web.Response:
        """Press Approve on many Lark cards in an open loop at ``rate`` a second, here where
        the users are: each card's message and button are looked up before the first press,
        so a press costs what a Lark client's tap does (the card event sent over the app's
        stream, its answer applied to the card), not a control request and a search of the
        user's messages. Answers once every press is answered or has failed: each tap's
        delivery, when it was pressed, how late that was against the schedule, and whether
        it failed."""
        body = await request.json()
        planned = [self._lark_button(str(a), str(d)) for a, d in body["taps"]]
        results = await taps.open_loop(float(body["rate"]), planned, self._press)
        return web.json_response({"taps": results})

    def _lark_button(self, account: str, delivery: str) -> taps.Button:
        address = self._addresses[("lark", account)]
        message = self._p.lark_message(address, delivery)
        values = [] if message is None else list(button_values(message.content))
        approve = [v for v in values if v.get("action") == "approve"]
        message_id = message.message_id if message is not None else ""
        return taps.Button(delivery, address, message_id, approve[0] if approve else None)

    async def _press(self, button: taps.Button) -> taps.Answer:
        """One tap, as :meth:`Platforms.approve` makes it once the card is found, and how the
        gateway answered it."""
        unanswered = taps.Answer(None, card=False)
        if button.value is None:
            return unanswered
        started = time.perf_counter()
        try:
            result = await self._p.lark.click(
                button.address,
                button.message_id,
                button.value,
                form_value={"comment": ""},
                timeout=CLICK_TIMEOUT,
            )
        except (DeliveryError, TimeoutError):
            return unanswered
        if result.failed:  # no answer within the platform's 3 s: the client's error
            return unanswered
        return taps.Answer(time.perf_counter() - started, card=result.card is not None)

    async def cards(self, request: web.Request) -> web.Response:
        """Lark cards created since index ``since``: [delivery_id, address, at] each."""
        since = int(request.query.get("since", "0"))
        rows = [c.row() for c in self._journal.cards[since:]]
        return web.json_response(
            {"cards": rows, "next": since + len(rows), "duplicates": self._journal.duplicates}
        )

    async def decisions(self, request: web.Request) -> web.Response:
        """Decisions received since index ``since``, and every webhook attempt so far."""
        since = int(request.query.get("since", "0"))
        rows = self._journal.decisions[since:]
        attempts = [[a.webhook_id, a.status] for a in self._p.backend.attempts]
        return web.json_response(
            {"decisions": rows, "next": since + len(rows), "attempts": attempts}
        )

    async def redraws(self, request: web.Request) -> web.Response:
        """Cards redrawn by the card APIs since index ``since``: [channel, delivery_id, at]."""
        since = int(request.query.get("since", "0"))
        rows = self._journal.redraws[since:]
        return web.json_response({"redraws": rows, "next": since + len(rows)})

    async def lark_log(self, request: web.Request) -> web.Response:
        """The Lark app's OpenAPI log since ``since``: [method, path, status, code, at]."""
        since = int(request.query.get("since", "0"))
        log = self._p.lark.requests_log[since:]
        rows = [[r.method, r.path, r.status, r.code, r.at] for r in log]
        return web.json_response({"log": rows, "next": since + len(rows)})

    async def dingtalk_log(self, request: web.Request) -> web.Response:
        """The DingTalk app's business calls: [method, path, status, at]."""
        log = self._p.dingtalk.calls_log
        return web.json_response({"log": [list(r) for r in log], "next": len(log)})

    async def dingtalk_held(self, request: web.Request) -> web.Response:
        """The delivery ids of the cards each given DingTalk account holds."""
        body = await request.json()
        held = {
            str(a): [
                delivery_of(c.out_track_id) or ""
                for c in self._p.dingtalk.cards(self._addresses[("dingtalk", str(a))])
            ]
            for a in body["accounts"]
        }
        return web.json_response({"held": held})


def instrument(platforms: Platforms) -> Journal:
    """Stamp the Lark app's card creations, both apps' redraws and the backend's decisions."""
    journal = Journal()
    store = platforms.lark.store
    # An instance attribute shadows the method: the sandbox's own code path stays unchanged.
    store.create_message = stamping_create(journal, store.create_message)  # type: ignore[method-assign,assignment]
    store.update_card = stamping_patch(journal, store.update_card)  # type: ignore[method-assign,assignment]
    book = platforms.dingtalk._cards  # the card book its OpenAPI routes write to
    book.update = stamping_put(journal, book.update, delivery_of)  # type: ignore[method-assign,assignment]
    platforms.backend.decisions = StampedDecisions(journal)
    return journal


def settings_env(platforms: Platforms, mail: MailCatcher) -> dict[str, str]:
    """What points a gateway's real channels and backend at these stand-ins."""
    return {
        **platforms.env(),
        "APPROVAL_GATEWAY_BACKEND_URL": platforms.backend.url,
        "APPROVAL_GATEWAY_BACKEND_SECRET": platforms.backend.secret,
        "APPROVAL_GATEWAY_EMAIL__HOST": mail.host,
        "APPROVAL_GATEWAY_EMAIL__PORT": str(mail.port),
        "APPROVAL_GATEWAY_EMAIL__SECURITY": "none",
    }


async def serve(secret: str) -> None:
    """Start the platforms and the control port, announce them, run until SIGTERM."""
    backend = SandboxBackend(secret=secret)
    await backend.start()
    platforms = Platforms(backend)
    platforms.start()
    mail = MailCatcher()
    mail.start()
    try:
        control = Control(platforms, instrument(platforms))
        app = web.Application()
        app.add_routes(control.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        announce = {
            "control": f"http://127.0.0.1:{runner.addresses[0][1]}",
            "env": settings_env(platforms, mail),
        }
        print(json.dumps(announce), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
    finally:
        mail.stop()
        platforms.stop()
        await backend.stop()


if __name__ == "__main__":
    asyncio.run(serve(os.environ["BENCH_SECRET"]))
    sys.exit(0)
