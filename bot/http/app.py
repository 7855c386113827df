"""The aiohttp application: routes, middleware and the OpenAPI document."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot import tracing
from bot.http.deadlines import body_deadline
from bot.http.deps import DEPS, HttpDeps
from bot.http.errors import Handler, errors_middleware, json_only_middleware
from bot.http.openapi import document
from bot.http.routes import OPENAPI, TABLES
from bot.logs import kv

access_log = logging.getLogger("bot.access")

MAX_BODY = 1024 * 1024  # 1 MiB: far above any real ticket, small enough to refuse abuse early


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One access log line, the HTTP metrics and a server span per request.

    Labelled by the route's template (``/v1/approvals/{ticket_id}``), never the raw path: a
    path holds ticket ids (unbounded label values) and the query string may hold a secret.
    """
    route = _route(request)
    started = time.perf_counter()
    status = 500
    request_id = ""
    with tracing.server(request.method, route, request.headers):
        try:
            response = await handler(request)
            status, request_id = response.status, response.headers.get("x-request-id", "")
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            seconds = time.perf_counter() - started
            tracing.set_status(status)
            _observed(request, route, status, seconds, request_id)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _observed(
    request: web.Request, route: str, status: int, seconds: float, request_id: str
) -> None:
    request.app[DEPS].metrics.http_answered(request.method, route, status, seconds)
    if not access_log.isEnabledFor(logging.INFO):  # no fields built for a line nobody writes
        return
    access_log.info(
        "http request",
        extra=kv(
            method=request.method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 3),
            http_request_id=request_id,
        ),
    )


def create_app(deps: HttpDeps, body_timeout: float = 30.0) -> web.Application:
    """Build the web application around the given services (``body_timeout``: seconds for a
    request body to arrive once its headers have)."""
    middlewares = [
        observe_middleware,
        errors_middleware,
        json_only_middleware,
        body_deadline(body_timeout),
    ]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[DEPS] = deps
    app[OPENAPI] = document(TABLES)
    for table in TABLES:  # each handler declares its operation (bot.http.spec)
        app.add_routes(table)
    app.add_routes(deps.extra_routes)
    return app
