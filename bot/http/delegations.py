"""Delegations while away: ``/v1/me/delegation`` (the console, for the acting account) and
``/v1/delegations[/{account_id}]`` (admin token, anyone's).

The rules (no self-delegation, one window at a time, no cycle at any moment) are
:func:`bot.core.delegation.check`'s; a refusal is a 422 naming the field, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.core.delegating import Delegations
from bot.core.delegation import MAX_DEPTH, Delegation
from bot.core.ports import UnitOfWork
from bot.errors import NotFound
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.me import ActingAccount
from bot.http.once import signed_read, signed_write
from bot.http.signatures import SignedRequest
from bot.http.spec import BEARER, SIGNED, Answer, operation

routes = web.RouteTableDef()


class DelegationIn(BaseModel):
    """Who acts for the account, from ``starts_at`` (default now) until ``ends_at``."""

    model_config = ConfigDict(extra="forbid")

    delegate_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime


class MyDelegationIn(DelegationIn, ActingAccount):
    """``PUT /v1/me/delegation``: the acting account and its delegate."""


class DelegationOut(BaseModel):
    """One delegation not ended yet."""

    account_id: str
    delegate_id: str
    starts_at: datetime
    ends_at: datetime
    set_by: str

    @classmethod
    def of(cls, d: Delegation) -> DelegationOut:
        """From the stored delegation."""
        return cls(
            account_id=d.account_id,
            delegate_id=d.delegate_id,
            starts_at=d.starts_at,
            ends_at=d.ends_at,
            set_by=d.set_by,
        )


class DelegationsOut(BaseModel):
    """Delegations not ended yet, by account and start; chains are followed ``max_depth`` hops."""

    delegations: list[DelegationOut]
    max_depth: int = MAX_DEPTH


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def _service(request: web.Request) -> Delegations:
    deps = request.app[DEPS]
    return Delegations(deps.store, deps.clock)


async def _listed(request: web.Request, account_id: str | None) -> web.Response:
    found = await _service(request).list(account_id)
    return _json(DelegationsOut(delegations=[DelegationOut.of(d) for d in found]))


async def _set(
    request: web.Request,
    account_id: str,
    body: DelegationIn,
    by: str,
    source: str,
    uow: UnitOfWork | None = None,
) -> web.Response:
    set_ = await _service(request).set(
        account_id,
        body.delegate_id,
        body.ends_at,
        starts_at=body.starts_at,
        by=by,
        source=source,
        uow=uow,
    )
    return _json(DelegationOut.of(set_), status=201)


async def _cleared(
    request: web.Request, account_id: str, by: str, source: str, uow: UnitOfWork | None = None
) -> web.Response:
    if not await _service(request).clear(account_id, by=by, source=source, uow=uow):
        raise NotFound(f"{account_id} has no delegation now or ahead")
    return web.Response(status=204)


@routes.get("/v1/me/delegation")
@operation(
    "getMyDelegation",
    "delegations",
    "The acting account's delegations, now and ahead",
    SIGNED,
    query=ActingAccount,
    answers=[Answer(200, DelegationsOut, "delegations")],
    errors=(401, 422),
)
@signed_read
async def show_mine(request: web.Request, signed: SignedRequest) -> web.Response:
    """The acting account's delegations not ended yet (``?account_id=``)."""
    return await _listed(request, ActingAccount.model_validate(dict(request.query)).account_id)


@routes.put("/v1/me/delegation")
@operation(
    "putMyDelegation",
    "delegations",
    "Name a delegate for the acting account while away",
    SIGNED,
    body=MyDelegationIn,
    answers=[Answer(201, DelegationOut, "set")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def set_mine(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """Name a delegate for a window; refused (422) if it overlaps one's own or makes a cycle."""
    body = MyDelegationIn.model_validate_json(signed.body or b"{}")
    return await _set(request, body.account_id, body, body.account_id, "console", uow)


@routes.delete("/v1/me/delegation")
@operation(
    "deleteMyDelegation",
    "delegations",
    "End the acting account's delegations, now and ahead",
    SIGNED,
    query=ActingAccount,
    answers=[Answer(204, None, "cleared")],
    errors=(401, 404, 409, 422),
)
@signed_write
async def clear_mine(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """End the acting account's delegations (``?account_id=``); 404 when it has none."""
    acting = ActingAccount.model_validate(dict(request.query))
    return await _cleared(request, acting.account_id, acting.account_id, "console", uow)


@routes.get("/v1/delegations")
@operation(
    "listDelegations",
    "delegations",
    "Every delegation now and ahead (admin)",
    BEARER,
    answers=[Answer(200, DelegationsOut, "delegations")],
    errors=(401, 403),
)
async def list_all(request: web.Request) -> web.Response:
    """Every delegation not ended yet (admin)."""
    await request.app[DEPS].auth.person(request, Role.ADMIN)
    return await _listed(request, None)


@routes.get("/v1/delegations/{account_id}")
@operation(
    "getDelegation",
    "delegations",
    "An account's delegations now and ahead (admin)",
    BEARER,
    answers=[Answer(200, DelegationsOut, "delegations")],
    errors=(401, 403, 422),
)
async def show_account(request: web.Request) -> web.Response:
    """One account's delegations not ended yet (admin)."""
    await request.app[DEPS].auth.person(request, Role.ADMIN)
    return await _listed(request, _account(request))


@routes.put("/v1/delegations/{account_id}")
@operation(
    "putDelegation",
    "delegations",
    "Name a delegate for an account (admin)",
    BEARER,
    body=DelegationIn,
    answers=[Answer(201, DelegationOut, "set")],
    errors=(400, 401, 403, 415, 422),
)
async def set_account(request: web.Request) -> web.Response:
    """Name a delegate for any account (admin); recorded as this token's doing."""
    principal = await request.app[DEPS].auth.person(request, Role.ADMIN)
    account_id = _account(request)
    body = DelegationIn.model_validate_json(await request.read() or b"{}")
    return await _set(request, account_id, body, principal.name, "api")


@routes.delete("/v1/delegations/{account_id}")
@operation(
    "deleteDelegation",
    "delegations",
    "End an account's delegations, now and ahead (admin)",
    BEARER,
    answers=[Answer(204, None, "cleared")],
    errors=(401, 403, 404, 422),
)
async def clear_account(request: web.Request) -> web.Response:
    """End any account's delegations (admin); 404 when it has none."""
    principal = await request.app[DEPS].auth.person(request, Role.ADMIN)
    return await _cleared(request, _account(request), principal.name, "api")


def _account(request: web.Request) -> str:
    return ActingAccount(account_id=request.match_info["account_id"]).account_id
