"""``/v1/me``: what a user may do about their own binding, through the console.

The console (the ticket backend) calls these on the user's behalf, signed with the backend
secret, naming the acting account in the query or the body: both are covered by the signature,
so a call made for one account cannot be re-aimed at another. Nothing here can name or touch any other account: the account
in the call is the only one read, coded or unbound.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.core.ports import UnitOfWork
from bot.errors import NotFound
from bot.http.deps import DEPS
from bot.http.once import secret, signed_read, signed_write
from bot.http.signatures import SignedRequest
from bot.http.spec import SIGNED, Answer, operation

routes = web.RouteTableDef()


class ActingAccount(BaseModel):
    """The account the console acts for."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")


class ChannelOfAccount(ActingAccount):
    """One of the acting account's bindings."""

    channel: str = Field(min_length=1, max_length=32)


class BindingCodeOut(BaseModel):
    """A code to send to the bot (shown once, to the user it was issued for)."""

    code: str
    command: str
    expires_at: datetime


class MyBinding(BaseModel):
    """One channel the account is bound on."""

    channel: str
    address: str
    method: str
    bound_at: datetime


class MyBindingsOut(BaseModel):
    """The acting account's bindings."""

    account_id: str
    bindings: list[MyBinding]


@routes.post("/v1/me/binding-codes")
@operation(
    "issueBindingCode",
    "me",
    "A single-use code the user sends to the bot as `bind CODE` (10 minutes)",
    SIGNED,
    body=ActingAccount,
    answers=[Answer(201, BindingCodeOut, "issued")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def issue_code(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """A single-use code the user sends as ``bind CODE`` in DingTalk or Lark (10 minutes)."""
    deps = request.app[DEPS]
    acting = ActingAccount.model_validate_json(signed.body or b"{}")
    code = await deps.selfbind.issue(acting.account_id, uow)
    body = BindingCodeOut(code=code.code, command=code.command, expires_at=code.expires_at)
    # Whoever holds the code binds their chat account to this one: it is never answered twice.
    answer = web.Response(status=201, text=body.model_dump_json(), content_type="application/json")
    return secret(answer, "code", "command")


@routes.get("/v1/me/binding")
@operation(
    "getMyBindings",
    "me",
    "The acting account's bindings",
    SIGNED,
    query=ActingAccount,
    answers=[Answer(200, MyBindingsOut, "bindings")],
    errors=(401, 422),
)
@signed_read
async def show_mine(request: web.Request, signed: SignedRequest) -> web.Response:
    """The acting account's own bindings (``?account_id=``)."""
    deps = request.app[DEPS]
    acting = ActingAccount.model_validate(dict(request.query))
    found = await deps.bindings.get(acting.account_id)
    body = MyBindingsOut(
        account_id=acting.account_id,
        bindings=[
            MyBinding(channel=b.channel, address=b.address, method=b.method, bound_at=b.bound_at)
            for b in found
        ],
    )
    return web.Response(text=body.model_dump_json(), content_type="application/json")


@routes.delete("/v1/me/binding")
@operation(
    "deleteMyBinding",
    "me",
    "Unbind the acting account on one channel",
    SIGNED,
    query=ChannelOfAccount,
    answers=[Answer(204, None, "unbound")],
    errors=(401, 404, 409, 422),
)
@signed_write
async def remove_mine(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """Unbind the acting account on one channel (``?account_id=&channel=``)."""
    deps = request.app[DEPS]
    target = ChannelOfAccount.model_validate(dict(request.query))
    removed = await uow.bindings.remove(
        target.account_id, target.channel, by=target.account_id, at=deps.clock.now()
    )
    if not removed:
        raise NotFound(f"account is not bound on {target.channel}")
    return web.Response(status=204)
