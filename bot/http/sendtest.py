"""``POST /v1/cards/test``: support sends a test card to an account through the real channel.

The card is drawn in the TEST state; its buttons answer with a toast and never decide anything.
Nothing is stored: a test send has no request, no outbox job and no decision behind it. A channel
that may not send (unauthorized, revoked, waiting for renewed consent, broken) answers 409 with
the reason, and nothing reaches the platform.

What the platform refuses is told apart by who can fix it: a receiver it does not know, or one
outside the app's scope, is the caller's (``422 receiver_unknown``, with the platform's code); a
refusal a retry cannot help is ``502 channel_refused``; only a failure a retry may cure (network,
5xx, throttling) stays ``503``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.channels.present import TEST_PREFIX
from bot.core.intake import ApprovalRequest
from bot.core.models import Delivery, DeliveryState, RequestStatus, StoredRequest
from bot.core.ports import OutgoingCard
from bot.errors import ChannelError, Conflict, InvalidInput, NotFound, ReceiverUnknown
from bot.http.auth import Role
from bot.http.channels import ACCESS
from bot.http.deps import DEPS, HttpDeps
from bot.http.errors import error_response
from bot.http.spec import BEARER, Answer, operation

routes = web.RouteTableDef()


class UnknownReceiver(InvalidInput):
    """The platform does not know the account's address, or it is outside the app's scope."""

    code = "receiver_unknown"


class TestSend(BaseModel):
    """Which account gets a test card, on which channel."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=32)
    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")
    locale: str = Field("en-US", pattern=r"^(zh-CN|en-US)$")


class TestSent(BaseModel):
    """Where the test card went."""

    delivery_id: str
    channel: str
    external_ref: str | None


@routes.post("/v1/cards/test")
@operation(
    "sendTestCard",
    "channels",
    "Send a test card through the real channel (support, admin); 409 with the reason when the channel may not send",
    BEARER,
    body=TestSend,
    answers=[Answer(202, TestSent, "sent")],
    errors=(400, 401, 403, 404, 409, 415, 422),
)
async def send_test(request: web.Request) -> web.Response:
    """Send a clearly marked test card (support or admin token)."""
    deps = request.app[DEPS]
    await deps.auth.person(request, Role.SUPPORT, Role.ADMIN)
    body = TestSend.model_validate_json(await request.read())
    refusal = request.app[ACCESS].refusal(body.channel)
    if refusal is not None:
        # A test card is a real message on the platform: it needs the same consent as any.
        raise Conflict(f"nothing sent: {refusal}")
    channel = deps.channels.get(body.channel)
    if channel is None:
        raise InvalidInput(f"channel {body.channel} is not running", {"channel": "not running"})
    card = await _test_card(deps, body)
    try:
        receipt = await channel.send(card)
    except ReceiverUnknown as exc:
        where = f"{body.channel} refused the bound address: {exc.message}"
        raise UnknownReceiver(f"nothing sent: {where}", {"account_id": where}) from exc
    except ChannelError as exc:
        if exc.retryable:
            raise  # 503: the platform may take it later
        return error_response(502, "channel_refused", f"{body.channel} refused: {exc.message}")
    sent = TestSent(
        delivery_id=card.delivery.id, channel=body.channel, external_ref=receipt.external_ref
    )
    return web.Response(status=202, text=sent.model_dump_json(), content_type="application/json")


async def _test_card(deps: HttpDeps, body: TestSend) -> OutgoingCard:
    address = await _address(deps, body)
    now = deps.clock.now()
    request = StoredRequest(
        id=TEST_PREFIX + uuid.uuid4().hex,
        ticket=ApprovalRequest.model_validate(_test_ticket(body, now)),
        status=RequestStatus.PENDING,
        created_at=now,
    )
    delivery = Delivery(
        id=TEST_PREFIX + uuid.uuid4().hex,
        request_id=request.id,
        account_id=body.account_id,
        channel=body.channel,
        address=address,
        state=DeliveryState.QUEUED,
        created_at=now,
        updated_at=now,
    )
    return OutgoingCard(delivery=delivery, request=request)


# What the test card shows: a realistic database-change ticket, so it looks like a real card.
_TEST_TICKET: Final[dict[str, Any]] = {
    "title": "ALTER TABLE orders ADD INDEX idx_created_at (created_at)",
    "summary": "Add an index to speed up the daily settlement report on orders (prod-mysql-01).",
    "fields": [
        {"name": "Database", "value": "prod-mysql-01 / shop"},
        {"name": "Affected rows (est.)", "value": "12,400,000"},
        {"name": "Change window", "value": "tonight 23:00-23:30"},
    ],
    "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
}


def _test_ticket(body: TestSend, now: datetime) -> dict[str, Any]:
    ticket_id = f"TEST-{uuid.uuid4().hex[:8]}"
    approver = {"account_id": body.account_id, "account_type": "main", "region": "cn"}
    return {
        **_TEST_TICKET,
        "ticket_id": ticket_id,
        "approvers": [{**approver, "display_name": body.account_id}],
        "console_url": f"https://dms.example.com/tickets/{ticket_id}",
        "expires_at": (now + timedelta(hours=1)).isoformat(),
        "locale": body.locale,
    }


async def _address(deps: HttpDeps, body: TestSend) -> str:
    bound = {b.channel: b.address for b in await deps.bindings.get(body.account_id)}
    if body.channel not in bound:
        raise NotFound(f"account {body.account_id} is not bound on {body.channel}")
    return bound[body.channel]
