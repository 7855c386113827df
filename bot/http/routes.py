"""Every route table of the API, in the order the application registers them.

The application and the OpenAPI document both read :data:`TABLES`, so the document describes
exactly the routes that are served.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http import (
    approvals,
    audit,
    bindings,
    channels,
    delegations,
    handover,
    health,
    me,
    preferences,
    preview,
    remind,
    sendtest,
    session,
    usage,
)
from bot.http.spec import OPEN, Answer, operation

OPENAPI = web.AppKey("openapi", dict[str, Any])
meta = web.RouteTableDef()


@meta.get("/v1/openapi.json")
@operation(
    "getOpenapiDocument",
    "meta",
    "This OpenAPI 3.1 document",
    OPEN,
    answers=[Answer(200, None, "the document")],
)
async def openapi_json(request: web.Request) -> web.Response:
    """The document built when the application was."""
    return web.json_response(request.app[OPENAPI])


TABLES: tuple[web.RouteTableDef, ...] = (
    approvals.routes,
    audit.routes,
    health.routes,
    bindings.routes,
    channels.routes,
    delegations.routes,
    handover.routes,
    me.routes,
    preferences.routes,
    preview.routes,
    remind.routes,
    sendtest.routes,
    session.routes,
    usage.routes,
    meta,
)
