"""What each route declares about itself for the OpenAPI document, next to its handler.

A handler carries its declaration as a decorator right under its route::

    @routes.post("/v1/approvals")
    @operation("submitApproval", "approvals", "Submit an approval request", SIGNED,
               body=ApprovalRequest, answers=[Answer(202, SubmitReceipt, "accepted")])
    @signed_write
    async def submit(request, signed, uow): ...

The decorator changes nothing about the handler: it records the declaration and returns the very
same function. ``bot.http.openapi`` builds the document from the route tables the application
registers and these declarations, so a route without one fails the build and a declaration
without a route cannot be reached. The models named here are the ones the handler validates and
answers with, so their schemas are pydantic's, never a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])

Security = tuple[str, ...]
SIGNED: Final[Security] = ("httpMessageSignature",)
BEARER: Final[Security] = ("bearer",)
SIGNED_OR_BEARER: Final[Security] = ("httpMessageSignature", "bearer")
OPEN: Final[Security] = ()


@dataclass(frozen=True)
class Answer:
    """One documented answer: status, body model (None: no body) and an example."""

    status: int
    model: type[BaseModel] | None
    description: str
    example: Any = None
    media: str = "application/json"
    many: bool = False  # the body is a JSON array of ``model``


@dataclass(frozen=True)
class Operation:
    """One operation: its id, tag, security, request models, answers and error statuses."""

    operation_id: str
    tag: str
    summary: str
    security: Security
    answers: tuple[Answer, ...]
    body: type[BaseModel] | None = None
    body_example: Any = None
    body_media: str = "application/json"
    query: type[BaseModel] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # extra request headers: name → what
    errors: tuple[int, ...] = ()


_DECLARED: dict[Callable[..., Any], Operation] = {}


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    security: Security,
    *,
    answers: list[Answer],
    body: type[BaseModel] | None = None,
    body_example: Any = None,
    body_media: str = "application/json",
    query: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Record the declaration of the decorated handler (which is returned unchanged)."""
    declared = Operation(
        operation_id=operation_id,
        tag=tag,
        summary=summary,
        security=security,
        answers=tuple(answers),
        body=body,
        body_example=body_example,
        body_media=body_media,
        query=query,
        errors=errors,
    )

    def record(handler: F) -> F:
        _DECLARED[handler] = declared
        return handler

    return record


def declared(handler: Callable[..., Any]) -> Operation | None:
    """The declaration recorded for ``handler``, if any."""
    return _DECLARED.get(handler)
