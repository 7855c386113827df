"""The aiohttp application: routes, middleware and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from bot.http.deadlines import body_deadline
from bot.http.deps import DEPS, HttpDeps
from bot.http.errors import errors_middleware, json_only_middleware
from bot.http.openapi import document
from bot.http.routes import OPENAPI, TABLES

MAX_BODY = 1024 * 1024  # 1 MiB: far above any real ticket, small enough to refuse abuse early


def create_app(deps: HttpDeps, body_timeout: float = 30.0) -> web.Application:
    """Build the web application around the given services (``body_timeout``: seconds for a
    request body to arrive once its headers have)."""
    middlewares = [errors_middleware, json_only_middleware, body_deadline(body_timeout)]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[DEPS] = deps
    app[OPENAPI] = document(TABLES)
    for table in TABLES:  # each handler declares its operation (bot.http.spec)
        app.add_routes(table)
    app.add_routes(deps.extra_routes)
    return app
