"""``POST /v1/approvals/{ticket_id}/hand-over``: an approver hands a request to a colleague.

Signed like the ``/v1/me`` calls: the console calls it for the approver, who is named in the
body (covered by the signature, so a call made for one account cannot be re-aimed at another),
and acted on once (a resend under the same request id replays the kept answer). The rules are
:func:`bot.core.roster.hand_over`'s; a refusal is a 4xx naming the field, and nothing is
written. On Lark the approver can do the same from the card (a person picker); DingTalk cards
have no person picker, so there it is this call only.
"""

from __future__ import annotations

from aiohttp import web

from bot.core.ports import UnitOfWork
from bot.core.roster import Colleague
from bot.http.deps import DEPS
from bot.http.me import ActingAccount
from bot.http.once import signed_write
from bot.http.schemas import ApprovalOut
from bot.http.signatures import SignedRequest
from bot.http.spec import SIGNED, Answer, operation
from bot.logs import bind

routes = web.RouteTableDef()


class HandOverIn(ActingAccount):
    """The approver handing the request over (``account_id``), and to whom."""

    to: Colleague


@routes.post("/v1/approvals/{ticket_id}/hand-over")
@operation(
    "handOverApproval",
    "approvals",
    "An approver who has not voted hands the request to a colleague, who replaces them in the"
    " open stage and gets a card (signed, for the approver named in the body)",
    SIGNED,
    body=HandOverIn,
    answers=[Answer(200, ApprovalOut, "handed over: the request as it now stands")],
    errors=(400, 401, 404, 409, 415, 422),
)
@signed_write
async def hand_over(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """Hand the request over; the giver's card says so, the colleague's card goes out."""
    deps = request.app[DEPS]
    body = HandOverIn.model_validate_json(signed.body or b"{}")
    ticket_id = request.match_info["ticket_id"]
    with bind(ticket_id=ticket_id):
        current = await deps.service.hand_over(
            ticket_id, body.account_id, body.to, source="api", uow=uow
        )
    votes = await uow.votes.of_request(current.id)
    out = ApprovalOut.of(current.with_votes(votes))
    return web.Response(text=out.model_dump_json(), content_type="application/json")
