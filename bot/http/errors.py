"""Middleware: a request id on every call, and every error as ``{"error": {...}}`` JSON.

Domain errors map to their 4xx here, at the edge; anything unexpected is logged with the request
id and answered 500 without internals, so a caller never sees a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from pydantic import ValidationError

from bot.errors import (
    AccessDenied,
    Conflict,
    GatewayError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    TooSoon,
    UnsupportedMediaType,
    VerificationError,
    validation_fields,
)
from bot.logs import bind, kv

log = logging.getLogger("bot.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATUS: list[tuple[type[GatewayError], int]] = [
    (VerificationError, 401),
    (AccessDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidTransition, 409),
    (InvalidInput, 422),
]


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> web.Response:
    """The one error shape of the API."""
    body: dict[str, object] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return web.json_response({"error": body}, status=status)


@web.middleware
async def json_only_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The API takes JSON bodies only: any other declared type is a 415 before a handler runs."""
    api = request.path.startswith("/v1/")
    if api and request.body_exists and request.content_type != "application/json":
        raise UnsupportedMediaType()
    return await handler(request)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate errors into JSON answers, bound to the request id."""
    # The caller's id is echoed only when it looks like one: it reaches every log line.
    request_id = request.headers.get("x-request-id", "")
    if not _REQUEST_ID.fullmatch(request_id):
        request_id = uuid.uuid4().hex
    # "request_id" in the logs is the approval request's id; this is the HTTP call's.
    with bind(http_request_id=request_id):
        response = await _answer(request, handler)
    response.headers["x-request-id"] = request_id
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, "http_error", exc.reason)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return error_response(
                400, "invalid_json", "the body is not valid JSON", {"body": "invalid JSON"}
            )
        return error_response(422, "invalid_input", "the body is invalid", validation_fields(exc))
    except InvalidInput as exc:
        return error_response(exc.status, exc.code, exc.message, exc.fields)
    except TooSoon as exc:
        response = error_response(429, exc.code, exc.message, exc.fields)
        response.headers["Retry-After"] = str(exc.retry_after)  # RFC 9110 §10.2.3: seconds
        return response
    except GatewayError as exc:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 503)
        if status >= 500:
            log.error("request failed", extra=kv(error=exc.message))
        return error_response(status, exc.code, exc.message, getattr(exc, "fields", None))
    except Exception:
        log.exception("unhandled error", extra=kv(path=request.path))
        return error_response(500, "internal_error", "internal error; see the gateway log")


_DUPLICATE = re.compile(r"Duplicate '([^']+)' header")


class JsonErrorsHandler(web.RequestHandler):
    """aiohttp's connection handler, answering a request it cannot parse in the API's shape.

    A malformed head (two ``Content-Type`` headers, a bad header line) never reaches the app or
    its middleware: aiohttp answers it itself, as text/plain, after logging a traceback at ERROR.
    It is the client's mistake, so here it is a JSON 400 naming what is wrong and one INFO line.
    """

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A JSON 400 for an unparsable request; anything else as aiohttp answers it."""
        if status != 400 or not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:  # as aiohttp: too late for any answer
            raise ConnectionError("the response had started when the request turned out malformed")
        reason = (exc.message or "malformed request").strip()
        log.info("malformed request refused", extra=kv(reason=reason, peer=request.remote))
        response = error_response(
            400, "malformed_request", f"the request is malformed: {reason}", _fields(reason)
        )
        response.force_close()  # the parser cannot tell where the next request would start
        return response


def _fields(reason: str) -> dict[str, str]:
    duplicate = _DUPLICATE.search(reason)
    if duplicate:
        return {f"headers.{duplicate.group(1)}": "sent more than once; send it once"}
    return {"request": reason}
