"""The aiohttp application: routes, middleware and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from bot.http import (
    approvals,
    audit,
    bindings,
    channels,
    health,
    me,
    preferences,
    preview,
    sendtest,
    session,
    usage,
)
from bot.http.deadlines import body_deadline
from bot.http.deps import DEPS, HttpDeps
from bot.http.errors import errors_middleware, json_only_middleware
from bot.http.openapi import document

MAX_BODY = 1024 * 1024  # 1 MiB: far above any real ticket, small enough to refuse abuse early


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[_OPENAPI])


_OPENAPI = web.AppKey("openapi", dict)


def create_app(deps: HttpDeps, body_timeout: float = 30.0) -> web.Application:
    """Build the web application around the given services (``body_timeout``: seconds for a
    request body to arrive once its headers have)."""
    middlewares = [errors_middleware, json_only_middleware, body_deadline(body_timeout)]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[DEPS] = deps
    app[_OPENAPI] = document()
    app.add_routes(approvals.routes)
    app.add_routes(audit.routes)
    app.add_routes(health.routes)
    app.add_routes(bindings.routes)
    app.add_routes(channels.routes)
    app.add_routes(me.routes)
    app.add_routes(preferences.routes)
    app.add_routes(preview.routes)
    app.add_routes(sendtest.routes)
    app.add_routes(session.routes)
    app.add_routes(usage.routes)
    app.router.add_get("/v1/openapi.json", _openapi)
    app.add_routes(deps.extra_routes)
    return app
