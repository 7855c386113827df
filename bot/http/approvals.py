"""``/v1/approvals``: submit, trace and withdraw approval requests."""

from __future__ import annotations

import hashlib

from aiohttp import web

from bot.core.models import ApprovalRequest
from bot.core.service import Withdrawal
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.schemas import ApprovalOut
from bot.logs import bind

routes = web.RouteTableDef()


@routes.post("/v1/approvals")
async def submit(request: web.Request) -> web.Response:
    """The backend submits a request; the webhook-id is the idempotency key."""
    deps = request.app[DEPS]
    signed = await deps.auth.verifier.verify(request)
    ticket = ApprovalRequest.model_validate_json(signed.raw)
    with bind(ticket_id=ticket.ticket_id):
        digest = hashlib.sha256(signed.raw).hexdigest()
        created, receipt = await deps.service.submit(ticket, signed.webhook_id, digest)
        if created:
            deps.metrics.requests.inc()
    return web.Response(status=202, text=receipt, content_type="application/json")


@routes.get("/v1/approvals/{ticket_id}")
async def show(request: web.Request) -> web.Response:
    """The request's state, each delivery's history and the decision."""
    deps = request.app[DEPS]
    await deps.auth.backend_or_person(request, Role.SUPPORT, Role.ADMIN)
    stored = await deps.service.get(request.match_info["ticket_id"])
    return _json(ApprovalOut.of(stored))


@routes.post("/v1/approvals/{ticket_id}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    """The backend closes a request (withdrawn, or decided in the console)."""
    deps = request.app[DEPS]
    signed = await deps.auth.verifier.verify(request)
    body = Withdrawal.model_validate_json(signed.raw or b"{}")
    ticket_id = request.match_info["ticket_id"]
    with bind(ticket_id=ticket_id):
        stored = await deps.service.withdraw(ticket_id, body)
    return _json(ApprovalOut.of(stored))


def _json(model: ApprovalOut) -> web.Response:
    return web.Response(text=model.model_dump_json(), content_type="application/json")
