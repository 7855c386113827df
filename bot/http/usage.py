"""``/v1/usage``: messages the platforms took, per day or per account (admins and support)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.core.storage import UsageReport
from bot.core.validation import month_start, parse_day
from bot.http.auth import Role
from bot.http.deps import DEPS
from bot.http.spec import BEARER, Answer, operation

routes = web.RouteTableDef()


class UsageQuery(BaseModel):
    """Query of ``GET /v1/usage`` (dates are UTC days, both ends included)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(None, alias="from")
    to: str | None = None
    channel: str | None = Field(None, max_length=64)
    group_by: Literal["day", "account"] = "day"


@routes.get("/v1/usage")
@operation(
    "getUsage",
    "operations",
    "Messages sent and updated per channel, by day or account (admin, support)",
    BEARER,
    query=UsageQuery,
    answers=[Answer(200, UsageReport, "counts")],
    errors=(401, 403, 422),
)
async def usage(request: web.Request) -> web.Response:
    """Counts of messages sent and updated, with totals per channel; default: this month."""
    deps = request.app[DEPS]
    await deps.auth.person(request, Role.ADMIN, Role.SUPPORT)
    query = UsageQuery.model_validate({k: v for k, v in request.query.items() if v != ""})
    today = deps.clock.now().date()
    start = parse_day(query.from_, month_start(today), "from")
    end = parse_day(query.to, today, "to")
    report = await deps.usage.report(start, end, channel=query.channel, group_by=query.group_by)
    return web.Response(text=report.model_dump_json(), content_type="application/json")
