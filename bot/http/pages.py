"""Server-rendered HTML pages (the preview here, the sandbox phone beside it): one set of
security headers for every page.

The pages draw untrusted ticket text, so templates autoescape, and every page is served with a
policy that allows no script at all: a payload that slipped past escaping still cannot run.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

# No scripts at all; inline styles only (the phone CSS and the email's style attributes).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("bot.http", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a template typo fails the tests, not a support person
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html_page(
    template: str, status: int = 200, *, no_store: bool = False, **context: Any
) -> web.Response:
    """Render ``template`` with ``context`` and serve it with the pages' security headers."""
    return html_response(_env().get_template(template).render(**context), status, no_store=no_store)


def html_response(body: str, status: int = 200, *, no_store: bool = False) -> web.Response:
    """Serve an already rendered page with the pages' security headers."""
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "no-referrer"
    if no_store:
        response.headers["cache-control"] = "no-store"
    return response
