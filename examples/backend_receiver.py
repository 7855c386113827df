"""A ticket backend's receiver for the gateway's decision webhooks (aiohttp).

    python -m examples.backend_receiver --port 9000 --secret-file data/backend_secret
    # the gateway: APPROVAL_GATEWAY_BACKEND_URL=http://127.0.0.1:9000/decisions

Each decision arrives as a Standard Webhooks POST (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) whose ``webhook-id`` is the decision's ``event_id``, the same on every
retry. The receiver answers as the gateway expects (README, "Decision webhook"):

* ``200``: taken, or a repeat of an event already taken (de-duplicated on ``webhook-id``: the
  gateway retries until it hears a ``2xx``, so a repeat is normal and must change nothing);
* ``409``: the ticket was already decided here (e.g. in the console) by another event; the
  gateway stops retrying and the cards say so;
* ``401``: the signature or timestamp is wrong (``standardwebhooks`` allows ±5 minutes);
* ``400``: correctly signed but not a decision (not JSON, missing fields). The package decodes
  the body only after the signature passes and raises ``ValueError`` then, not
  ``WebhookVerificationError``: both are caught, so signed garbage is a 400, never a 500.

The memory here is a dict, to keep the example short; a real backend records the ``webhook-id``
under a unique constraint in the same transaction as the decision it applies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

log = logging.getLogger("backend_receiver")
DECISIONS_PATH = "/decisions"


@dataclass
class Decisions:
    """What the backend has taken: each event once, and each ticket's one decision."""

    by_event: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_ticket: dict[str, str] = field(default_factory=dict)  # ticket_id → event_id
    repeats: int = 0

    def take(self, event_id: str, event: dict[str, Any]) -> int:
        """Record the event; the HTTP status to answer."""
        if event_id in self.by_event:
            self.repeats += 1
            return 200  # a retry of what we already hold: the same answer, nothing applied
        ticket_id = str(event["ticket_id"])
        if ticket_id in self.by_ticket:
            return 409  # decided here already, by another event
        self.by_event[event_id] = event
        self.by_ticket[ticket_id] = event_id
        return 200


DECISIONS = web.AppKey("decisions", Decisions)
WEBHOOK = web.AppKey("webhook", Webhook)
REQUIRED = ("event_id", "ticket_id", "decision", "approver", "decided_at")
STEP_TYPES = ("approval.reminded", "approval.escalated")


async def receive(request: web.Request) -> web.Response:
    """Verify, de-duplicate and take one decision."""
    body = await request.read()
    try:
        event = request.app[WEBHOOK].verify(body, dict(request.headers))
    except WebhookVerificationError as exc:
        return _answer(401, f"signature refused: {exc}")
    except ValueError:  # signed, but not UTF-8 JSON (JSONDecodeError, UnicodeDecodeError)
        return _answer(400, "the body is not JSON")
    webhook_id = request.headers["webhook-id"]
    if isinstance(event, dict) and event.get("type") == "approval.vote":
        # Progress only (backend_vote_events on): the decision comes as its own event.
        log.info("vote %s for %s: %s", webhook_id, event.get("ticket_id"), event.get("vote"))
        return _answer(200, "noted")
    if isinstance(event, dict) and event.get("type") in STEP_TYPES:
        # A reminder or escalation step ran (backend_step_events on): what went out, and why.
        log.info(
            "%s %s for %s: %s",
            event["type"],
            webhook_id,
            event.get("ticket_id"),
            event.get("detail"),
        )
        return _answer(200, "noted")
    missing = [name for name in REQUIRED if not isinstance(event, dict) or name not in event]
    if missing:
        return _answer(400, f"not a decision: missing {', '.join(missing)}")
    if event["event_id"] != webhook_id:
        return _answer(400, "webhook-id is not the event's id")
    status = request.app[DECISIONS].take(webhook_id, event)
    log.info("decision %s for %s: %s", webhook_id, event["ticket_id"], status)
    return _answer(status, "taken" if status == 200 else "already decided here")


def _answer(status: int, why: str) -> web.Response:
    return web.json_response({"status": why}, status=status)


def make_app(secret: str, decisions: Decisions | None = None) -> web.Application:
    """The receiver application; ``decisions`` is where taken events go."""
    app = web.Application()
    app[WEBHOOK] = Webhook(secret.strip())
    app[DECISIONS] = decisions if decisions is not None else Decisions()
    app.router.add_post(DECISIONS_PATH, receive)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving ``app``; the caller cleans the runner up."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _run(secret: str, host: str, port: int) -> None:
    runner = await serve(make_app(secret), host, port)
    log.info("receiving decisions on http://%s:%s%s", host, port, DECISIONS_PATH)
    try:
        await asyncio.Event().wait()  # until interrupted
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(description="receive the gateway's decision webhooks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret-file", type=Path, required=True, help="the whsec_ secret")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args.secret_file.read_text(), args.host, args.port))


if __name__ == "__main__":
    main()
