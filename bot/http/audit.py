"""``/v1/audit``: the append-only audit log, newest first, paged and filtered (admins only)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.core.storage import AuditPage
from bot.core.validation import MAX_PAGE, parse_bound
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.spec import BEARER, Answer, operation

routes = web.RouteTableDef()


class AuditQuery(BaseModel):
    """Query of ``GET /v1/audit``; ``from``/``to`` are ISO dates or times (UTC), inclusive."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    limit: int = Field(100, ge=1, le=MAX_PAGE)
    before: int | None = Field(None, ge=1)
    action: str | None = Field(None, max_length=64)
    actor: str | None = Field(None, max_length=256)
    target: str | None = Field(None, max_length=256)
    from_: str | None = Field(None, alias="from")
    to: str | None = None


@routes.get("/v1/audit")
@operation(
    "getAuditLog",
    "operations",
    "The audit log, newest first (admin)",
    BEARER,
    query=AuditQuery,
    answers=[Answer(200, AuditPage, "records")],
    errors=(401, 403, 422),
)
async def audit_log(request: web.Request) -> web.Response:
    """A page of records; pass ``next_before`` back as ``?before=`` for the next one."""
    deps = request.app[DEPS]
    await deps.auth.person(request, Role.ADMIN)
    query = AuditQuery.model_validate({k: v for k, v in request.query.items() if v != ""})
    page = await deps.audit.page(
        limit=query.limit,
        before=query.before,
        action=query.action,
        who=query.actor,
        target=query.target,
        since=parse_bound(query.from_, "from", end=False),
        until=parse_bound(query.to, "to", end=True),
    )
    return web.Response(text=page.model_dump_json(), content_type="application/json")
