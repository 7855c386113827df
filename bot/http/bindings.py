"""``/v1/bindings``: admins read, set and remove anyone's identity bindings.

Only admin bearer tokens are accepted (support gets 403): a binding decides who receives, and
so who can decide, an approval.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.core.ports import LookupKey
from bot.core.storage import Binding, BindingRepo
from bot.core.validation import MAX_PAGE, check_binding
from bot.errors import InvalidInput, NotFound
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.preferences import PendingEmailOut, verifier
from bot.http.spec import BEARER, Answer, operation

routes = web.RouteTableDef()


class BindingIn(BaseModel):
    """Body of ``PUT /v1/bindings/{account_id}``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=1, max_length=256)
    # Email only: the admin vouches for the address (e.g. from the company directory); without
    # it a confirmation code is mailed and the address waits until it comes back.
    verified: bool = False


class LookupIn(BaseModel):
    """Body of ``POST /v1/bindings/lookup``: exactly one of ``lark_email``/``dingtalk_mobile``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lark_email: str | None = Field(None, max_length=254)
    dingtalk_mobile: str | None = Field(None, pattern=r"^\+?[0-9-]{5,20}$")
    channel: str | None = Field(None, description="dingtalk (default) or dingtalk_enterprise")


class LookupOut(BaseModel):
    """What the platform knows: a proposed binding (``address`` null: nobody found)."""

    channel: str
    address: str | None
    found: bool


class ListQuery(BaseModel):
    """Query of ``GET /v1/bindings``."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, ge=1, le=MAX_PAGE)
    cursor: str | None = None
    channel: str | None = None
    unbound: bool = False  # with channel: accounts with no binding on it


class ChannelQuery(BaseModel):
    """Query of ``DELETE /v1/bindings/{account_id}``."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)


class BindingOut(BaseModel):
    """One binding as the API shows it."""

    account_id: str
    channel: str
    address: str
    bound_by: str
    method: str
    bound_at: datetime

    @classmethod
    def of(cls, binding: Binding) -> BindingOut:
        """From the stored binding."""
        return cls.model_validate(binding.model_dump())


class BindingPageOut(BaseModel):
    """A page of bindings; pass ``next_cursor`` as ``?cursor=`` for the next."""

    items: list[BindingOut]
    next_cursor: str | None


class AccountBindingsOut(BaseModel):
    """Every binding of one account (empty when it has none)."""

    account_id: str
    bindings: list[BindingOut]


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def _query(request: web.Request) -> dict[str, str]:
    # ``?cursor=`` (empty) means "not given", as clients that always send every key expect.
    return {key: value for key, value in request.query.items() if value != ""}


async def _admin(request: web.Request) -> tuple[BindingRepo, str]:
    deps = request.app[DEPS]
    principal = await deps.auth.person(request, Role.ADMIN)
    return deps.bindings, principal.name


@routes.get("/v1/bindings")
@operation(
    "listBindings",
    "bindings",
    "Bindings, paged (admin)",
    BEARER,
    query=ListQuery,
    answers=[Answer(200, BindingPageOut, "one page")],
    errors=(401, 403, 422),
)
async def list_bindings(request: web.Request) -> web.Response:
    """A page of every binding, optionally of one channel (or of accounts unbound on it)."""
    repo, _ = await _admin(request)
    query = ListQuery.model_validate(_query(request))
    if query.unbound and query.channel is None:
        raise InvalidInput("unbound needs a channel", {"channel": "required with unbound=true"})
    page = await repo.list(
        channel=query.channel, limit=query.limit, cursor=query.cursor, unbound=query.unbound
    )
    items = [BindingOut.of(b) for b in page.items]
    return _json(BindingPageOut(items=items, next_cursor=page.next_cursor))


@routes.get("/v1/bindings/{account_id:.+}")
@operation(
    "getAccountBindings",
    "bindings",
    "One account's bindings (admin)",
    BEARER,
    answers=[Answer(200, AccountBindingsOut, "bindings")],
    errors=(401, 403),
)
async def show_bindings(request: web.Request) -> web.Response:
    """One account's bindings."""
    repo, _ = await _admin(request)
    account_id = request.match_info["account_id"]
    found = await repo.get(account_id)
    return _json(
        AccountBindingsOut(account_id=account_id, bindings=[BindingOut.of(b) for b in found])
    )


@routes.put("/v1/bindings/{account_id:.+}")
@operation(
    "putBinding",
    "bindings",
    "Bind an account on a channel (admin); an unverified email address waits for its code",
    BEARER,
    body=BindingIn,
    answers=[
        Answer(200, BindingOut, "bound"),
        Answer(202, PendingEmailOut, "email pending confirmation"),
    ],
    errors=(400, 401, 403, 415, 422),
)
async def put_binding(request: web.Request) -> web.Response:
    """Bind (or re-bind) one account on one channel; recorded as this token's doing.

    An email address is mailed a confirmation code and answered 202 (pending) unless the body
    says ``verified: true``.
    """
    repo, token_id = await _admin(request)
    body = BindingIn.model_validate_json(await request.read())
    account_id = request.match_info["account_id"]
    address = check_binding(account_id, body.channel, body.address)
    if body.channel == "email" and not body.verified:
        pending = await verifier(request).request(
            account_id, address, by=token_id, method="admin-api"
        )
        return _json(PendingEmailOut.of(pending), status=202)
    method = "admin-verified" if body.channel == "email" else "admin-api"
    now = request.app[DEPS].clock.now()
    binding = await repo.set(account_id, body.channel, address, by=token_id, method=method, at=now)
    return _json(BindingOut.of(binding))


@routes.post("/v1/bindings/lookup")
@operation(
    "lookupBinding",
    "bindings",
    "Find a Lark user by email or a DingTalk user by mobile (admin; binds nothing)",
    BEARER,
    body=LookupIn,
    answers=[Answer(200, LookupOut, "the proposed binding")],
    errors=(400, 401, 403, 415, 422),
)
async def lookup(request: web.Request) -> web.Response:
    """Ask the platform who has this Lark email or DingTalk mobile; nothing is bound."""
    await _admin(request)
    body = LookupIn.model_validate_json(await request.read() or b"{}")
    if (body.lark_email is None) == (body.dingtalk_mobile is None):
        raise InvalidInput("give exactly one of lark_email and dingtalk_mobile")
    key: LookupKey
    if body.lark_email is not None:
        channel, key, value = body.channel or "lark", "email", body.lark_email
    else:
        channel, key, value = body.channel or "dingtalk", "mobile", body.dingtalk_mobile or ""
    running = request.app[DEPS].channels.get(channel)
    if running is None or key not in running.capabilities.lookups:
        raise InvalidInput(f"no running channel {channel} can look that up", {"channel": channel})
    address = await running.lookup(key, value)
    return _json(LookupOut(channel=channel, address=address, found=address is not None))


@routes.delete("/v1/bindings/{account_id:.+}")
@operation(
    "deleteBinding",
    "bindings",
    "Unbind an account on a channel (admin)",
    BEARER,
    query=ChannelQuery,
    answers=[Answer(204, None, "unbound")],
    errors=(401, 403, 404, 422),
)
async def delete_binding(request: web.Request) -> web.Response:
    """Unbind one account on one channel; 404 when it was not bound there."""
    repo, token_id = await _admin(request)
    query = ChannelQuery.model_validate(_query(request))
    account_id = request.match_info["account_id"]
    at = request.app[DEPS].clock.now()
    if not await repo.remove(account_id, query.channel, by=token_id, at=at):
        raise NotFound(f"{account_id} has no {query.channel} binding")
    return web.Response(status=204)
