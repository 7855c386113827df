"""A sandbox ticket backend: both sides of the contract a real backend implements.

It receives decision webhooks (verifying the Standard Webhooks signature, de-duplicating on
``webhook-id`` as a receiver must) and can be told to fail, answer 409, hang for a while, or
hang until released. It also submits, reads and withdraws requests with RFC 9421 signed calls,
the way an integrator's backend does (through ``bot.backend.signing``, the code behind
``approval-gateway sign``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from bot.backend.signing import sign_request

DECISIONS_PATH = "/decisions"
VOTE_TYPE = "approval.vote"
STEP_TYPES = ("approval.reminded", "approval.escalated")


@dataclass(frozen=True)
class ReceivedDecision:
    """A decision (or a vote event) as the backend recorded it."""

    webhook_id: str
    body: dict[str, Any]

    @property
    def ticket_id(self) -> str:
        """The ticket decided."""
        return str(self.body["ticket_id"])


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt and how the sandbox answered it."""

    webhook_id: str
    status: int
    ticket_id: str = ""  # from the verified body ("" when the signature was refused)


@dataclass
class Faults:
    """How the next decision webhooks are answered."""

    fail_next: int = 0
    fail_status: int = 503
    conflict: bool = False
    reject_status: int | None = None
    hang_seconds: float = 0.0


def _event(*, is_set: bool) -> asyncio.Event:
    event = asyncio.Event()
    if is_set:
        event.set()
    return event


@dataclass
class SandboxBackend:
    """Receives decisions at ``url`` and signs calls to the gateway at ``gateway_url``."""

    secret: str
    gateway_url: str = ""
    decisions: list[ReceivedDecision] = field(default_factory=list)
    votes: list[ReceivedDecision] = field(default_factory=list)  # approval.vote events
    steps: list[ReceivedDecision] = field(default_factory=list)  # reminded / escalated events
    attempts: list[Attempt] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    hanging: int = 0  # webhooks held unanswered right now (see :meth:`hang`)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _released: asyncio.Event = field(default_factory=lambda: _event(is_set=True))

    @property
    def port(self) -> int:
        """The port it listens on (kept after :meth:`stop`, to start again on it)."""
        return self._port

    @property
    def url(self) -> str:
        """Where the gateway must POST decisions."""
        return f"http://127.0.0.1:{self._port}{DECISIONS_PATH}"

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1."""
        app = web.Application()
        app.router.add_post(DECISIONS_PATH, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    def hang(self) -> None:
        """From now on hold every decision webhook unanswered until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        """Answer the held webhooks (and the next ones) as the faults say."""
        self._released.set()

    async def stop(self) -> None:
        """Stop listening."""
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ receiving decisions

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        webhook_id = request.headers.get("webhook-id", "")
        try:
            body = Webhook(self.secret).verify(raw, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            return self._answer(webhook_id, 401)
        ticket_id = str(body.get("ticket_id", ""))
        if self.faults.hang_seconds:
            await asyncio.sleep(self.faults.hang_seconds)
        await self._held()
        status = self._fault_status()
        if status is not None:
            return self._answer(webhook_id, status, ticket_id)
        # Standard Webhooks: one event per webhook-id however often it is delivered; the body's
        # type tells a vote or a step (sent only when the gateway is asked to) from a decision.
        kept = self._kept(str(body.get("type", "")))
        if all(d.webhook_id != webhook_id for d in kept):
            kept.append(ReceivedDecision(webhook_id=webhook_id, body=body))
        async with self._arrived:
            self._arrived.notify_all()
        return self._answer(webhook_id, 200, ticket_id)

    def _kept(self, kind: str) -> list[ReceivedDecision]:
        if kind == VOTE_TYPE:
            return self.votes
        return self.steps if kind in STEP_TYPES else self.decisions

    async def _held(self) -> None:
        if self._released.is_set():
            return
        self.hanging += 1
        try:
            await self._released.wait()
        finally:
            self.hanging -= 1

    def _fault_status(self) -> int | None:
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            return self.faults.fail_status
        if self.faults.reject_status is not None:
            return self.faults.reject_status
        return 409 if self.faults.conflict else None

    def _answer(self, webhook_id: str, status: int, ticket_id: str = "") -> web.Response:
        self.attempts.append(Attempt(webhook_id=webhook_id, status=status, ticket_id=ticket_id))
        return web.json_response({"status": status}, status=status)

    async def wait_for_decision(self, ticket_id: str, within: float = 10.0) -> ReceivedDecision:
        """Block until a decision for ``ticket_id`` has arrived."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: self._find(ticket_id) is not None)
        found = self._find(ticket_id)
        assert found is not None
        return found

    def _find(self, ticket_id: str) -> ReceivedDecision | None:
        return next((d for d in self.decisions if d.ticket_id == ticket_id), None)

    # ------------------------------------------------------------------ calling the gateway

    def sign(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        request_id: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, str]:
        """RFC 9421 signature headers for one call (``bot.backend.signing``, as the sign command)."""
        headers = sign_request(self.secret, method, target, body, request_id=request_id, created=at)
        return {"content-type": "application/json", **headers} if body else headers

    async def call(
        self, method: str, path: str, body: Any = None, *, request_id: str | None = None
    ) -> tuple[int, Any]:
        """A signed call to the gateway; returns (status, decoded JSON)."""
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = self.sign(method, path, raw, request_id=request_id)
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.gateway_url + path, data=raw, headers=headers) as response,
        ):
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def submit(
        self, ticket: dict[str, Any], *, request_id: str | None = None
    ) -> tuple[int, Any]:
        """Submit an approval request."""
        return await self.call("POST", "/v1/approvals", ticket, request_id=request_id)

    async def trace(self, ticket_id: str) -> tuple[int, Any]:
        """Read a request's state and delivery history."""
        return await self.call("GET", f"/v1/approvals/{ticket_id}")

    async def withdraw(self, ticket_id: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Close a request from the backend's side."""
        return await self.call("POST", f"/v1/approvals/{ticket_id}/withdraw", body or {})
