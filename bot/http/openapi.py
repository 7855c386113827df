"""The OpenAPI 3.1 document, generated from the same pydantic models the handlers use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import bot
from bot.channel_access import AuthorizeResult, ChannelStatus, Notice
from bot.core.models import ApprovalRequest
from bot.core.service import SubmitReceipt, Withdrawal
from bot.core.storage import AuditPage, UsageReport
from bot.http.bindings import (
    AccountBindingsOut,
    BindingIn,
    BindingOut,
    BindingPageOut,
    LookupIn,
    LookupOut,
)
from bot.http.channels import AuthorizeIn, RevokeOut
from bot.http.me import ActingAccount, BindingCodeOut, MyBindingsOut
from bot.http.preferences import (
    ConfirmedOut,
    ConfirmIn,
    EmailIn,
    MyPreferencesIn,
    PendingEmailOut,
    PreferencesIn,
    PreferencesOut,
)
from bot.http.schemas import ApprovalOut, ErrorBody
from bot.http.sendtest import TestSend, TestSent

_MODELS: list[type[BaseModel]] = [
    ApprovalRequest,
    SubmitReceipt,
    Withdrawal,
    ApprovalOut,
    ErrorBody,
    BindingIn,
    BindingOut,
    BindingPageOut,
    AccountBindingsOut,
    ActingAccount,
    BindingCodeOut,
    MyBindingsOut,
    LookupIn,
    LookupOut,
    PreferencesIn,
    MyPreferencesIn,
    PreferencesOut,
    EmailIn,
    ConfirmIn,
    PendingEmailOut,
    ConfirmedOut,
    Notice,
    ChannelStatus,
    AuthorizeIn,
    AuthorizeResult,
    RevokeOut,
    UsageReport,
    AuditPage,
    TestSend,
    TestSent,
]
_SIGNED: list[dict[str, list[str]]] = [{"httpMessageSignature": []}]
_READ: list[dict[str, list[str]]] = [{"httpMessageSignature": []}, {"bearer": []}]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "not JSON",
        401: "not authenticated",
        403: "forbidden",
        404: "not found",
        409: "conflict",
        422: "invalid fields (named in error.fields)",
    }
    return {str(code): _json(ErrorBody, text[code]) for code in codes}


def _paths() -> dict[str, Any]:
    ticket = [{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/v1/approvals": {
            "post": {
                "summary": "Submit an approval request (webhook-id is the idempotency key)",
                "security": _SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(ApprovalRequest)}},
                },
                "responses": {
                    "202": _json(SubmitReceipt, "accepted and stored"),
                    **_errors(400, 401, 409, 422),
                },
            }
        },
        "/v1/approvals/{ticket_id}": {
            "get": {
                "summary": "State, deliveries with history, decision",
                "parameters": ticket,
                "security": _READ,
                "responses": {"200": _json(ApprovalOut, "the trace"), **_errors(401, 403, 404)},
            }
        },
        "/v1/approvals/{ticket_id}/withdraw": {
            "post": {
                "summary": "Close a request: withdrawn, or decided in the console",
                "parameters": ticket,
                "security": _SIGNED,
                "requestBody": {"content": {"application/json": {"schema": _ref(Withdrawal)}}},
                "responses": {
                    "200": _json(ApprovalOut, "closed"),
                    **_errors(400, 401, 404, 409, 422),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": {"description": "up"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: store writable, every stream connected",
                "security": [],
                "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "security": [],
                "responses": {"200": {"description": "text exposition"}},
            }
        },
    }


def _identity_paths() -> dict[str, Any]:
    account = [{"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    channel_q = {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}}
    acting_q = {"name": "account_id", "in": "query", "required": True, "schema": {"type": "string"}}
    admin: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "/v1/bindings": {
            "get": {
                "summary": "Bindings, paged (admin)",
                "security": admin,
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("limit", "cursor", "channel", "unbound")
                ],
                "responses": {"200": _json(BindingPageOut, "one page"), **_errors(401, 403, 422)},
            }
        },
        "/v1/bindings/{account_id}": {
            "get": {
                "summary": "One account's bindings (admin)",
                "security": admin,
                "parameters": account,
                "responses": {"200": _json(AccountBindingsOut, "bindings"), **_errors(401, 403)},
            },
            "put": {
                "summary": "Bind an account on a channel (admin)",
                "security": admin,
                "parameters": account,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(BindingIn)}},
                },
                "responses": {"200": _json(BindingOut, "bound"), **_errors(401, 403, 422)},
            },
            "delete": {
                "summary": "Unbind an account on a channel (admin)",
                "security": admin,
                "parameters": [*account, channel_q],
                "responses": {"204": {"description": "unbound"}, **_errors(401, 403, 404)},
            },
        },
        "/v1/me/binding-codes": {
            "post": {
                "summary": "A single-use code the user sends to the bot as `bind CODE` (10 minutes)",
                "security": _SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(ActingAccount)}},
                },
                # 409 answer_withheld: a resend; the code is given in the first answer only.
                "responses": {
                    "201": _json(BindingCodeOut, "issued"),
                    **_errors(400, 401, 409, 422),
                },
            }
        },
        "/v1/me/binding": {
            "get": {
                "summary": "The acting account's bindings",
                "security": _SIGNED,
                "parameters": [acting_q],
                "responses": {"200": _json(MyBindingsOut, "bindings"), **_errors(401, 422)},
            },
            "delete": {
                "summary": "Unbind the acting account on one channel",
                "security": _SIGNED,
                "parameters": [acting_q, channel_q],
                "responses": {"204": {"description": "unbound"}, **_errors(401, 404, 422)},
            },
        },
    }


def _op(
    summary: str,
    security: list[dict[str, list[str]]],
    ok: tuple[int, type[BaseModel], str],
    body: type[BaseModel] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": security,
        "responses": {str(ok[0]): _json(ok[1], ok[2]), **_errors(401, 403, 409, 422)},
    }
    if body is not None:
        content = {"application/json": {"schema": _ref(body)}}
        operation["requestBody"] = {"required": True, "content": content}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _preference_paths() -> dict[str, Any]:
    admin: list[dict[str, list[str]]] = [{"bearer": []}]
    acting = [{"name": "account_id", "in": "query", "required": True, "schema": {"type": "string"}}]
    account = [{"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    prefs = (200, PreferencesOut, "preferences")
    return {
        "/v1/bindings/lookup": {
            "post": _op(
                "Find a Lark user by email or a DingTalk user by mobile (admin; binds nothing)",
                admin,
                (200, LookupOut, "the proposed binding"),
                LookupIn,
            )
        },
        "/v1/me/preferences": {
            "get": _op("The acting account's preferences", _SIGNED, prefs, parameters=acting),
            "put": _op("Change the acting account's preferences", _SIGNED, prefs, MyPreferencesIn),
        },
        "/v1/me/email": {
            "post": _op(
                "Mail a confirmation code to a new address (pending until confirmed)",
                _SIGNED,
                (202, PendingEmailOut, "pending"),
                EmailIn,
            )
        },
        "/v1/me/email/confirm": {
            "post": _op(
                "Confirm the pending address with the mailed code",
                _SIGNED,
                (200, ConfirmedOut, "verified"),
                ConfirmIn,
            )
        },
        "/v1/accounts/{account_id}/preferences": {
            "get": _op("An account's preferences (admin)", admin, prefs, parameters=account),
            "put": _op(
                "Change an account's preferences (admin)", admin, prefs, PreferencesIn, account
            ),
        },
    }


def _operations_paths() -> dict[str, Any]:
    people: list[dict[str, list[str]]] = [{"bearer": []}]
    channel = [{"name": "channel", "in": "path", "required": True, "schema": {"type": "string"}}]

    def query(*names: str) -> list[dict[str, Any]]:
        return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]

    def body(model: type[BaseModel]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}

    listing = {
        "description": "every channel",
        "content": {
            "application/json": {"schema": {"type": "array", "items": _ref(ChannelStatus)}}
        },
    }
    return {
        "/v1/channels": {
            "get": {
                "summary": "Each channel's authorization, health and usage (admin, support)",
                "security": people,
                "responses": {"200": listing, **_errors(401, 403)},
            }
        },
        "/v1/channels/{channel}/authorization": {
            "get": {
                "summary": "The notice to read before authorizing (admin, support)",
                "security": people,
                "parameters": channel,
                "responses": {"200": _json(Notice, "the notice"), **_errors(401, 403, 404)},
            },
            "post": {
                "summary": "Authorize the channel: consent to the notice, credentials checked and sealed (admin)",
                "security": people,
                "parameters": channel,
                "requestBody": body(AuthorizeIn),
                "responses": {
                    "200": _json(AuthorizeResult, "authorized"),
                    **_errors(400, 401, 403, 404, 422),
                },
            },
            "delete": {
                "summary": "Revoke: stop the stream, delete the credential, reroute pending cards (admin)",
                "security": people,
                "parameters": channel,
                "responses": {"200": _json(RevokeOut, "revoked"), **_errors(401, 403, 404)},
            },
        },
        "/v1/usage": {
            "get": {
                "summary": "Messages sent and updated per channel, by day or account (admin, support)",
                "security": people,
                "parameters": query("from", "to", "channel", "group_by"),
                "responses": {"200": _json(UsageReport, "counts"), **_errors(401, 403, 422)},
            }
        },
        "/v1/audit": {
            "get": {
                "summary": "The audit log, newest first (admin)",
                "security": people,
                "parameters": query("limit", "before", "action", "actor", "target", "from", "to"),
                "responses": {"200": _json(AuditPage, "records"), **_errors(401, 403, 422)},
            }
        },
        "/v1/cards/test": {
            "post": {
                "summary": "Send a test card through the real channel (support, admin); 409 with "
                "the reason when the channel may not send (unauthorized, revoked, consent "
                "needed, broken)",
                "security": people,
                "requestBody": body(TestSend),
                "responses": {
                    "202": _json(TestSent, "sent"),
                    **_errors(401, 403, 404, 409, 422),
                },
            }
        },
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    _, schemas = models_json_schema(
        [(model, "validation") for model in _MODELS], ref_template="#/components/schemas/{model}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Approval gateway", "version": bot.__version__},
        "paths": {**_paths(), **_identity_paths(), **_preference_paths(), **_operations_paths()},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
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
            },
        },
    }
