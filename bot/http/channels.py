"""``/v1/channels``: each channel's consent state, its notice, and authorizing or revoking it.

Reading is for admins and support; authorizing and revoking are for admins only. No answer ever
carries a credential: they go in sealed and only their field names come back.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.channel_access import AuthorizeResult, ChannelAccess, ChannelStatus, Notice
from bot.core.validation import USAGE_KINDS
from bot.http.auth import Principal, Role
from bot.http.deps import DEPS
from bot.http.spec import BEARER, Answer, operation

ACCESS = web.AppKey("channel_access", ChannelAccess)
routes = web.RouteTableDef()


class AuthorizeIn(BaseModel):
    """Body of ``POST /v1/channels/{channel}/authorization``."""

    model_config = ConfigDict(extra="forbid")

    accept_notice: bool = False
    notice_version: str = Field("", max_length=64)
    credentials: dict[str, str | int] | None = None
    # Also accept the notice's SMS and phone urgency, which the platform charges the tenant.
    paid_urgency: bool = False


class RevokeOut(BaseModel):
    """The answer to a revocation."""

    channel: str
    state: str
    rerouted: int


def _json(model: BaseModel | list[Any], status: int = 200) -> web.Response:
    if isinstance(model, list):
        text = "[" + ",".join(m.model_dump_json() for m in model) + "]"
        return web.Response(text=text, status=status, content_type="application/json")
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


async def _caller(request: web.Request, *roles: Role) -> tuple[ChannelAccess, Principal]:
    principal = await request.app[DEPS].auth.person(request, *roles)
    return request.app[ACCESS], principal


def _source(request: web.Request) -> str:
    return f"api {request.remote or ''}".strip()


@routes.get("/v1/channels")
@operation(
    "listChannels",
    "channels",
    "Each channel's authorization, health and usage (admin, support)",
    BEARER,
    answers=[Answer(200, ChannelStatus, "every channel", many=True)],
    errors=(401, 403),
)
async def list_channels(request: web.Request) -> web.Response:
    """Every channel: consent state, who and when, notice version, health, usage this month."""
    access, _ = await _caller(request, Role.ADMIN, Role.SUPPORT)
    deps = request.app[DEPS]
    month = await deps.usage.month(deps.clock.now())
    empty = dict.fromkeys(USAGE_KINDS, 0)
    return _json(
        [
            s.model_copy(update={"usage_this_month": month.get(s.channel, empty)})
            for s in access.statuses()
        ]
    )


@routes.get("/v1/channels/{channel}/authorization")
@operation(
    "getChannelNotice",
    "channels",
    "The notice to read before authorizing (admin, support)",
    BEARER,
    answers=[Answer(200, Notice, "the notice")],
    errors=(401, 403, 404),
)
async def show_notice(request: web.Request) -> web.Response:
    """The notice to read before authorizing, with its version."""
    access, _ = await _caller(request, Role.ADMIN, Role.SUPPORT)
    name = request.match_info["channel"]
    access.known(name)
    return _json(access.notice(name))


@routes.post("/v1/channels/{channel}/authorization")
@operation(
    "authorizeChannel",
    "channels",
    "Authorize the channel: consent to the notice, credentials checked and sealed (admin)",
    BEARER,
    body=AuthorizeIn,
    answers=[Answer(200, AuthorizeResult, "authorized")],
    errors=(400, 401, 403, 404, 415, 422),
)
async def authorize(request: web.Request) -> web.Response:
    """Accept the notice (and hand over credentials): checked, sealed, recorded, started."""
    access, principal = await _caller(request, Role.ADMIN)
    body = AuthorizeIn.model_validate_json(await request.read())
    credentials = {k: str(v) for k, v in (body.credentials or {}).items()} or None
    result = await access.authorize(
        request.match_info["channel"],
        principal.name,
        body.accept_notice,
        body.notice_version,
        credentials,
        _source(request),
        paid_urgency=body.paid_urgency,
    )
    return _json(result)


@routes.delete("/v1/channels/{channel}/authorization")
@operation(
    "revokeChannel",
    "channels",
    "Revoke: stop the stream, delete the credential, reroute pending cards (admin)",
    BEARER,
    answers=[Answer(200, RevokeOut, "revoked")],
    errors=(401, 403, 404),
)
async def revoke(request: web.Request) -> web.Response:
    """Stop the channel, delete its credential, reroute its queued deliveries."""
    access, principal = await _caller(request, Role.ADMIN)
    name = request.match_info["channel"]
    moved = await access.revoke(name, principal.name, _source(request))
    return _json(RevokeOut(channel=name, state="revoked", rerouted=moved))
