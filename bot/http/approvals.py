"""``/v1/approvals``: submit, trace and withdraw approval requests."""

from __future__ import annotations

from aiohttp import web

from bot.core.intake import ApprovalRequest
from bot.core.ports import UnitOfWork
from bot.core.service import SubmitReceipt, Withdrawal
from bot.core.timing.policy import check_intake
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.once import signed_write
from bot.http.schemas import ApprovalOut
from bot.http.signatures import SignedRequest
from bot.http.spec import SIGNED, SIGNED_OR_BEARER, Answer, operation
from bot.logs import bind

routes = web.RouteTableDef()
JSON = "application/json"


@routes.post("/v1/approvals")
@operation(
    "submitApproval",
    "approvals",
    "Submit an approval request (the signed request id is the idempotency key)",
    SIGNED,
    body=ApprovalRequest,
    answers=[Answer(202, SubmitReceipt, "accepted and stored")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def submit(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """The backend submits a request; the signed request id makes a resend harmless."""
    deps = request.app[DEPS]
    ticket = ApprovalRequest.model_validate_json(signed.body)
    check_intake(ticket, deps.clock.now(), deps.timing)
    with bind(ticket_id=ticket.ticket_id):
        receipt = await deps.service.submit(ticket, uow)
    deps.metrics.requests.inc()
    return web.Response(status=202, text=receipt.model_dump_json(), content_type=JSON)


@routes.get("/v1/approvals/{ticket_id}")
@operation(
    "getApproval",
    "approvals",
    "State, deliveries with history, stages with their votes, who is awaited, the upcoming"
    " steps, the submitter's notice, decision",
    SIGNED_OR_BEARER,
    answers=[Answer(200, ApprovalOut, "the trace")],
    errors=(401, 403, 404),
)
async def show(request: web.Request) -> web.Response:
    """The request's state, each delivery's history, the votes and the decision."""
    deps = request.app[DEPS]
    await deps.auth.backend_or_person(request, Role.SUPPORT, Role.ADMIN)
    trace = await deps.service.trace(request.match_info["ticket_id"])
    return _json(ApprovalOut.of(trace))


@routes.post("/v1/approvals/{ticket_id}/withdraw")
@operation(
    "withdrawApproval",
    "approvals",
    "Close a request: withdrawn, or decided in the console",
    SIGNED,
    body=Withdrawal,
    answers=[Answer(200, ApprovalOut, "closed")],
    errors=(400, 401, 404, 409, 415, 422),
)
@signed_write
async def withdraw(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """The backend closes a request (withdrawn, or decided in the console)."""
    deps = request.app[DEPS]
    body = Withdrawal.model_validate_json(signed.body or b"{}")
    ticket_id = request.match_info["ticket_id"]
    with bind(ticket_id=ticket_id):
        stored = await deps.service.withdraw(ticket_id, body, uow)
    return _json(ApprovalOut.of(stored))


def _json(model: ApprovalOut) -> web.Response:
    return web.Response(text=model.model_dump_json(), content_type=JSON)
