"""``POST /v1/approvals/{ticket_id}/remind``: remind now those the request still awaits.

The backend (signed, acted on once: a resend under the same request id replays the kept
answer) or an admin (bearer token). The rules, the rate limit per approver included, are
:func:`bot.core.timing.now.remind_now`'s; the reminders themselves go out through the outbox's
``timers`` lane like scheduled ones, and each writes its line in the card's history.
"""

from __future__ import annotations

from aiohttp import web

from bot.core.ports import UnitOfWork
from bot.core.timing.now import RemindNowResult
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.once import signed_write
from bot.http.signatures import SIGNATURE_HEADERS, SignedRequest
from bot.http.spec import SIGNED_OR_BEARER, Answer, operation
from bot.logs import bind

routes = web.RouteTableDef()


@signed_write
async def _by_backend(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    ticket_id = request.match_info["ticket_id"]
    with bind(ticket_id=ticket_id):
        result = await request.app[DEPS].service.remind_now(
            ticket_id, by="backend", source="backend", uow=uow
        )
    return _accepted(result)


@routes.post("/v1/approvals/{ticket_id}/remind")
@operation(
    "remindApproval",
    "approvals",
    "Remind now the approvers the open stage still awaits (backend, or admin token); each"
    " approver at most once per REMINDERS__REMIND_NOW_EVERY",
    SIGNED_OR_BEARER,
    answers=[Answer(202, RemindNowResult, "queued: who is reminded, who is skipped and why")],
    errors=(401, 403, 404, 409, 429),
)
async def remind(request: web.Request) -> web.Response:
    """Queue a reminder now for each approver still awaited and not reminded lately."""
    if any(h in request.headers for h in SIGNATURE_HEADERS):
        return await _by_backend(request)
    deps = request.app[DEPS]
    admin = await deps.auth.person(request, Role.ADMIN)
    ticket_id = request.match_info["ticket_id"]
    with bind(ticket_id=ticket_id):
        result = await deps.service.remind_now(ticket_id, by=admin.name, source="api")
    return _accepted(result)


def _accepted(result: RemindNowResult) -> web.Response:
    return web.Response(status=202, text=result.model_dump_json(), content_type="application/json")
