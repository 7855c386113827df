"""The OpenAPI 3.1 document, generated from the routes the application serves.

Each handler declares its operation beside itself (``bot.http.spec``): operationId, tag, security,
the pydantic models it reads and answers with. This module walks the route tables the application
registers (``bot.http.routes``), turns each declaration into an operation, and lets pydantic
(``models_json_schema``) write every schema. A served route without a declaration stops the build,
so the document cannot fall behind the handlers. The platform callback routes (registered by the
channels in HTTP mode) and the webhooks the gateway sends are declared here, since their bodies
are read by the platform SDKs and sent by ``bot.backend.webhook``; tests hold them to the real routes and
the real webhook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import bot
from bot.core.ports import DecisionEvent, StepEvent, VoteEvent
from bot.http.samples import sample
from bot.http.schemas import (
    CallbackRefusal,
    DingTalkAnswer,
    DingTalkCallbackQuery,
    DingTalkEnvelope,
    ErrorBody,
    LarkAnswer,
    LarkEnvelope,
)
from bot.http.spec import OPEN, Answer, Operation, declared

REF: Final = "#/components/schemas/{model}"
ERRORS: Final[dict[int, str]] = {
    400: "the body is not JSON",
    401: "not authenticated (signature or token refused)",
    403: "the caller's role may not do this",
    404: "not found",
    408: "the body did not arrive in time",
    409: "conflict: the state forbids it, or the request id was used for another request",
    415: "the body is not application/json",
    422: "invalid fields, each named in error.fields",
    429: "too soon: try again after Retry-After seconds (error.fields says who waits until when)",
}
TAGS: Final[list[dict[str, str]]] = [
    {"name": "approvals", "description": "Submit, trace and withdraw approval requests (backend)"},
    {"name": "bindings", "description": "Who is reached where (admin)"},
    {"name": "me", "description": "A user's own bindings and email, through the console"},
    {"name": "preferences", "description": "Channel order and approval email"},
    {"name": "delegations", "description": "Who acts for an approver away, and until when"},
    {"name": "channels", "description": "Consent, credentials and test cards per channel"},
    {"name": "operations", "description": "Usage and the audit log"},
    {"name": "health", "description": "Liveness, readiness, metrics"},
    {"name": "preview", "description": "Card previews for support (HTML)"},
    {
        "name": "support",
        "description": "Support staff's browser session: sign in with a token, sign out",
    },
    {"name": "meta", "description": "This document"},
    {"name": "callbacks", "description": "Platform callbacks in HTTP mode (Lark, DingTalk)"},
    {"name": "webhooks", "description": "What the gateway sends to the ticket backend"},
]
_PARAM: Final = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


class UndeclaredRoute(Exception):
    """A served route has no ``@operation`` declaration."""


def callback_operations() -> dict[str, Operation]:
    """The platform callback routes a channel registers in HTTP mode, by path."""
    refused = (
        Answer(401, CallbackRefusal, "signature, token or timestamp refused"),
        Answer(409, CallbackRefusal, "a replay: this event was already taken"),
        Answer(503, CallbackRefusal, "the channel is not started"),
    )
    lark = Operation(
        operation_id="larkCallback",
        tag="callbacks",
        summary="Lark event and card-action callbacks (url_verification, encrypted or plain)",
        security=OPEN,
        body=LarkEnvelope,
        headers={
            "X-Lark-Request-Timestamp": "Unix seconds; must be inside the callback window",
            "X-Lark-Request-Nonce": "the nonce signed with the timestamp",
            "X-Lark-Signature": "sha256(timestamp + nonce + encrypt key + body), hex",
        },
        answers=(Answer(200, LarkAnswer, "the challenge echoed, or the click's answer"), *refused),
    )
    dingtalk = Operation(
        operation_id="dingtalkCallback",
        tag="callbacks",
        summary="DingTalk event subscription (encrypted) and robot message callbacks",
        security=OPEN,
        body=DingTalkEnvelope,
        query=DingTalkCallbackQuery,
        headers={
            "timestamp": "robot messages: Unix milliseconds",
            "sign": "robot messages: base64 HMAC-SHA256 of timestamp + newline + app secret",
        },
        answers=(Answer(200, DingTalkAnswer, "encrypted success, or {} for a robot"), *refused),
    )
    return {"/callbacks/lark": lark, "/callbacks/dingtalk": dingtalk}


def webhook_operations() -> dict[str, Operation]:
    """Every call the gateway makes to the ticket backend, by webhook name."""
    decision = Operation(
        operation_id="decisionWebhook",
        tag="webhooks",
        summary='A decision (type "approval.decision"), POSTed to the backend URL, signed with '
        'Standard Webhooks (decided_by: "approver" for a vote, "policy" for the on_expiry outcome at expires_at)',
        security=OPEN,
        body=DecisionEvent,
        headers={
            "webhook-id": "the decision's event_id, the same on every retry: de-duplicate on it",
            "webhook-timestamp": "Unix seconds of this attempt",
            "webhook-signature": 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">',
        },
        answers=(
            Answer(200, None, "taken (any 2xx)"),
            Answer(409, None, "already decided on the backend: also ends the retries"),
            Answer(429, None, "throttled: retried with backoff, honouring Retry-After"),
            Answer(500, None, "failed: retried with backoff (any 5xx, timeouts, network errors)"),
            Answer(400, None, "refused for good (any other 4xx): the cards say so"),
        ),
    )
    vote = Operation(
        operation_id="voteWebhook",
        tag="webhooks",
        summary='One counted vote (type "approval.vote"), only with backend_vote_events on: '
        "POSTed to the backend URL like a decision, signed the same way, with the tally it left",
        security=OPEN,
        body=VoteEvent,
        headers={
            "webhook-id": "the vote's event_id, the same on every retry: de-duplicate on it",
            "webhook-timestamp": "Unix seconds of this attempt",
            "webhook-signature": 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">',
        },
        answers=decision.answers,
    )
    step = Operation(
        operation_id="stepWebhook",
        tag="webhooks",
        summary='One reminder or escalation step run (type "approval.reminded" or '
        '"approval.escalated"), only with backend_step_events on: who, on which channel, what '
        "went out (sms, phone or app urgency, a plain message, an email, nothing) and why",
        security=OPEN,
        body=StepEvent,
        headers={
            "webhook-id": "the step's event_id, the same on every retry: de-duplicate on it",
            "webhook-timestamp": "Unix seconds of this attempt",
            "webhook-signature": 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">',
        },
        answers=decision.answers,
    )
    return {"decision": decision, "vote": vote, "step": step}


def document(tables: Sequence[web.RouteTableDef] | None = None) -> dict[str, Any]:
    """The whole OpenAPI document for the routes in ``tables`` (default: every API table)."""
    if tables is None:
        from bot.http.routes import TABLES  # routes imports the handlers, which import spec

        tables = TABLES
    served = list(served_operations(tables))
    callbacks = [("POST", path, op) for path, op in callback_operations().items()]
    webhooks = webhook_operations()
    every = [op for _, _, op in [*served, *callbacks]] + list(webhooks.values())
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in [*served, *callbacks]:
        paths.setdefault(_plain(path), {})[method.lower()] = _operation(path, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Approval gateway", "version": bot.__version__},
        "tags": TAGS,
        "paths": paths,
        "webhooks": {name: {"post": _operation("", op)} for name, op in webhooks.items()},
        "components": {"schemas": _schemas(every), "securitySchemes": _SECURITY},
    }


def served_operations(
    tables: Iterable[web.RouteTableDef],
) -> Iterator[tuple[str, str, Operation]]:
    """(method, path, declaration) of every route in ``tables``; UndeclaredRoute if one has none."""
    for table in tables:
        for route in table:
            assert isinstance(route, web.RouteDef), "the API registers plain routes only"
            op = declared(route.handler)
            if op is None:
                raise UndeclaredRoute(f"{route.method} {route.path} declares no @operation")
            yield route.method, route.path, op


def _plain(path: str) -> str:
    """``/v1/bindings/{account_id:.+}`` → ``/v1/bindings/{account_id}``."""
    return _PARAM.sub(r"{\1}", path)


def _operation(path: str, op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "security": [{name: []} for name in op.security],
    }
    parameters = _path_params(path) + _query_params(op.query) + _header_params(op)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_media == "application/json",
            "content": {op.body_media: _media(op.body, op.body_example)},
        }
    answers = {str(a.status): _answer(a) for a in op.answers}
    errors = {str(code): _answer(Answer(code, ErrorBody, ERRORS[code])) for code in op.errors}
    out["responses"] = {**errors, **answers}
    return out


def _media(model: type[BaseModel], example: Any = None, many: bool = False) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=model.__name__)}
    media: dict[str, Any] = {"schema": {"type": "array", "items": ref} if many else ref}
    shown = example if example is not None else sample(model)
    if shown is not None:
        media["example"] = [shown] if many and example is None else shown
    return media


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.model is not None:
        out["content"] = {answer.media: _media(answer.model, answer.example, answer.many)}
    elif answer.media != "application/json":
        out["content"] = {answer.media: {"schema": {"type": "string"}}}
    return out


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ]


def _query_params(query: type[BaseModel] | None) -> list[dict[str, Any]]:
    if query is None:
        return []
    schema = query.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _header_params(op: Operation) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "header", "description": what, "schema": {"type": "string"}}
        for name, what in op.headers.items()
    ]


def _schemas(operations: Iterable[Operation]) -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody}
    for op in operations:
        found = [op.body, op.query, *(a.model for a in op.answers)]
        models.update({m.__name__: m for m in found if m is not None})
    _, schemas = models_json_schema(
        [(model, "validation") for model in models.values()], ref_template=REF
    )
    defs: dict[str, Any] = schemas.get("$defs", {})
    return defs


_SECURITY: Final[dict[str, Any]] = {
    "httpMessageSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Signature",
        "description": (
            "RFC 9421 HTTP Message Signature (hmac-sha256, keyid backend) covering "
            '"@method" "@path" "@query" "content-digest" with created and nonce '
            "(the request id); RFC 9530 Content-Digest; see README"
        ),
    },
    "bearer": {"type": "http", "scheme": "bearer"},
}
