"""Preferences (channel order, approval email on/off, time zone) and email verification.

``/v1/me/...`` is called by the console on a user's behalf (backend-signed, naming the acting
account, as ``/v1/me/binding``); ``/v1/accounts/{account_id}/preferences`` takes an admin token.
An email address set here is only pending until the code mailed to it comes back.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.core.emailverify import EmailVerification
from bot.core.ports import PendingEmail, UnitOfWork
from bot.core.storage import Preferences
from bot.core.validation import check_binding, check_order, check_time_zone
from bot.errors import InvalidInput
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.errors import error_response
from bot.http.me import ActingAccount
from bot.http.once import signed_read, signed_write
from bot.http.signatures import SignedRequest
from bot.http.spec import BEARER, SIGNED, Answer, operation

routes = web.RouteTableDef()

WRONG_CODE = "that code is not valid or has expired; ask for a new one"


class PreferencesIn(BaseModel):
    """What to change; a field left out keeps its value (``channel_order: []`` resets it)."""

    model_config = ConfigDict(extra="forbid")

    channel_order: list[str] | None = Field(None, max_length=8)
    email_enabled: bool | None = None
    time_zone: str | None = Field(
        None, max_length=64, description='IANA name, e.g. Asia/Shanghai ("": by locale)'
    )


class MyPreferencesIn(PreferencesIn, ActingAccount):
    """``PUT /v1/me/preferences``: the acting account and what to change."""


class EmailIn(ActingAccount):
    """``POST /v1/me/email``: the address to confirm for the acting account."""

    address: str = Field(min_length=3, max_length=254)


class ConfirmIn(ActingAccount):
    """``POST /v1/me/email/confirm``: the code from the confirmation email."""

    code: str = Field(min_length=4, max_length=20)


class PreferencesOut(BaseModel):
    """An account's preferences (``channel_order`` null: the deployment's order)."""

    account_id: str
    channel_order: list[str] | None
    email_enabled: bool
    time_zone: str | None  # null: each card's times in the zone of its locale
    email_pending: bool
    updated_by: str | None
    updated_at: datetime | None


class PendingEmailOut(BaseModel):
    """An address waiting for its code; it is not used until confirmed."""

    account_id: str
    address: str
    status: str = "pending"
    expires_at: datetime

    @classmethod
    def of(cls, pending: PendingEmail) -> PendingEmailOut:
        """From the stored pending address."""
        return cls(
            account_id=pending.account_id, address=pending.address, expires_at=pending.expires_at
        )


class ConfirmedOut(BaseModel):
    """The address is now the account's email binding."""

    account_id: str
    address: str
    status: str = "verified"


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def verifier(request: web.Request) -> EmailVerification:
    """The email verification service (always set by the runtime)."""
    found = request.app[DEPS].emailverify
    if found is None:
        raise InvalidInput("email verification is not available on this gateway")
    return found


async def _out(
    request: web.Request, prefs: Preferences, uow: UnitOfWork | None = None
) -> PreferencesOut:
    pending = await verifier(request).pending(prefs.account_id, uow)
    return PreferencesOut(
        account_id=prefs.account_id,
        channel_order=list(prefs.channel_order) if prefs.channel_order else None,
        email_enabled=prefs.email_enabled,
        time_zone=prefs.time_zone,
        email_pending=pending is not None,
        updated_by=prefs.updated_by,
        updated_at=prefs.updated_at,
    )


async def _change(
    request: web.Request,
    account_id: str,
    body: PreferencesIn,
    by: str,
    uow: UnitOfWork | None = None,
) -> Preferences:
    deps = request.app[DEPS]
    order = None if body.channel_order is None else check_order(body.channel_order)
    zone = None if body.time_zone is None else check_time_zone(body.time_zone)
    repo = uow.preferences if uow is not None else deps.preferences
    return await repo.set(
        account_id,
        order=order,
        email_enabled=body.email_enabled,
        time_zone=zone,
        by=by,
        at=deps.clock.now(),
    )


@routes.get("/v1/me/preferences")
@operation(
    "getMyPreferences",
    "preferences",
    "The acting account's preferences",
    SIGNED,
    query=ActingAccount,
    answers=[Answer(200, PreferencesOut, "preferences")],
    errors=(401, 422),
)
@signed_read
async def show_mine(request: web.Request, signed: SignedRequest) -> web.Response:
    """The acting account's preferences (``?account_id=``)."""
    deps = request.app[DEPS]
    acting = ActingAccount.model_validate(dict(request.query))
    return _json(await _out(request, await deps.preferences.get(acting.account_id)))


@routes.put("/v1/me/preferences")
@operation(
    "putMyPreferences",
    "preferences",
    "Change the acting account's preferences",
    SIGNED,
    body=MyPreferencesIn,
    answers=[Answer(200, PreferencesOut, "preferences")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def set_mine(request: web.Request, signed: SignedRequest, uow: UnitOfWork) -> web.Response:
    """Change the acting account's channel order, approval email subscription and/or zone."""
    body = MyPreferencesIn.model_validate_json(signed.body or b"{}")
    prefs = await _change(request, body.account_id, body, by=body.account_id, uow=uow)
    return _json(await _out(request, prefs, uow))


@routes.post("/v1/me/email")
@operation(
    "setMyEmail",
    "me",
    "Mail a confirmation code to a new address (pending until confirmed)",
    SIGNED,
    body=EmailIn,
    answers=[Answer(202, PendingEmailOut, "pending")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def set_my_email(
    request: web.Request, signed: SignedRequest, uow: UnitOfWork
) -> web.Response:
    """Mail a confirmation code to a new address for the acting account (202: pending)."""
    body = EmailIn.model_validate_json(signed.body or b"{}")
    address = check_binding(body.account_id, "email", body.address)
    pending = await verifier(request).request(
        body.account_id, address, by=body.account_id, method="console", uow=uow
    )
    return _json(PendingEmailOut.of(pending), status=202)


@routes.post("/v1/me/email/confirm")
@operation(
    "confirmMyEmail",
    "me",
    "Confirm the pending address with the mailed code",
    SIGNED,
    body=ConfirmIn,
    answers=[Answer(200, ConfirmedOut, "verified")],
    errors=(400, 401, 409, 415, 422),
)
@signed_write
async def confirm_my_email(
    request: web.Request, signed: SignedRequest, uow: UnitOfWork
) -> web.Response:
    """Turn the pending address into the account's email binding when the code is right."""
    body = ConfirmIn.model_validate_json(signed.body or b"{}")
    confirmed = await verifier(request).confirm(body.account_id, body.code, uow)
    if confirmed is None:
        # One answer for unknown account, nothing pending, wrong, used and expired codes. It is
        # returned, not raised: the wrong guess just counted must commit with it.
        return error_response(422, "invalid_input", WRONG_CODE, {"code": WRONG_CODE})
    return _json(ConfirmedOut(account_id=confirmed.account_id, address=confirmed.address))


@routes.get("/v1/accounts/{account_id}/preferences")
@operation(
    "getAccountPreferences",
    "preferences",
    "An account's preferences (admin)",
    BEARER,
    answers=[Answer(200, PreferencesOut, "preferences")],
    errors=(401, 403, 422),
)
async def show_account(request: web.Request) -> web.Response:
    """Any account's preferences (admin)."""
    deps = request.app[DEPS]
    await deps.auth.person(request, Role.ADMIN)
    account_id = ActingAccount(account_id=request.match_info["account_id"]).account_id
    return _json(await _out(request, await deps.preferences.get(account_id)))


@routes.put("/v1/accounts/{account_id}/preferences")
@operation(
    "putAccountPreferences",
    "preferences",
    "Change an account's preferences (admin)",
    BEARER,
    body=PreferencesIn,
    answers=[Answer(200, PreferencesOut, "preferences")],
    errors=(400, 401, 403, 415, 422),
)
async def set_account(request: web.Request) -> web.Response:
    """Change any account's preferences (admin); recorded as this token's doing."""
    deps = request.app[DEPS]
    principal = await deps.auth.person(request, Role.ADMIN)
    account_id = ActingAccount(account_id=request.match_info["account_id"]).account_id
    body = PreferencesIn.model_validate_json(await request.read() or b"{}")
    return _json(await _out(request, await _change(request, account_id, body, principal.name)))
