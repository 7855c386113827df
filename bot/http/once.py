"""Signed backend calls, each acted on once: the idempotency and replay memory.

Following the IETF Idempotency-Key draft and Stripe: the answer (status and body) to a signed
request that changes state is kept with its request id and the hash of its method, path, query
and body, in the same transaction as the change. A resend under the same id, byte-identical or
re-signed, is given the kept answer (with ``Idempotent-Replayed: true``) and acts no second time;
the same id with another request is ``409``. A refusal (any 4xx raised by the handler) rolls the
transaction back, so it writes nothing and keeps nothing: sending it again is asking again.

The handler acts inside that transaction, a unit of work it is handed (``handler(request,
signed, uow)``) and passes to what it calls (``ApprovalService.submit(ticket, uow)``): nothing
joins it implicitly, and the worker's wake-ups the change registers run only after the commit
that also keeps the answer.

The request id is claimed by the transaction's first statement, before the handler acts: a
second send of it, on this gateway or on another replica of the same database, waits there for
the first one's transaction and is then given its kept answer (or acts, if the first rolled back).

An answer that holds a secret (a fresh binding code) marks those fields with :func:`secret`: the
caller gets them in that answer only, and what is kept, and replayed, is a ``409
answer_withheld`` naming them. Inside the signature window a captured request can be sent again
byte for byte; were the secret replayed, whoever captured the request would hold it.

Kept bodies are sealed with the master key (AES-GCM, named by request id).

Replay protection is this memory plus the signature's time window: the memory keeps each id for
far longer than the window, so inside the window a captured request can only be answered again.
Expired answers are swept periodically by the outbox worker (``bot.outbox.worker``), not here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.ports import SignedAnswer, UnitOfWork
from bot.errors import Conflict, StoreError
from bot.http.deps import DEPS
from bot.http.errors import error_response
from bot.http.signatures import SignedRequest
from bot.secrets import Sealed, SecretBox, answer_name

SignedHandler = Callable[[web.Request, SignedRequest], Awaitable[web.Response]]
# A signed write acts inside the unit of work that keeps its answer.
SignedWrite = Callable[[web.Request, SignedRequest, UnitOfWork], Awaitable[web.Response]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

REPLAYED = "Idempotent-Replayed"
# The fields of an answer that hold a secret (set by the handler through ``secret``).
SECRET_FIELDS = web.ResponseKey("secret_fields", tuple)
WITHHELD = "given in the first answer only"


class AnswerUnavailable(Conflict):
    """The kept answer to this request id cannot be opened (its master key is gone); send the
    request again under a new id."""

    code = "answer_unavailable"


class AnswerWithheld(Conflict):
    """The answer to this request id held a secret, given once; send a new request under a new
    request id."""

    code = "answer_withheld"


class RequestIdReused(Conflict):
    """This request id was already used for a different request."""

    code = "request_id_reused"


def signed_read(handler: SignedHandler) -> Handler:
    """A signed call that changes nothing: verified, then answered."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.Response:
        signed = await _verified(request)
        return await handler(request, signed)

    return run


def signed_write(handler: SignedWrite) -> Handler:
    """A signed call that changes state: verified, acted on once, its answer kept in the
    unit of work the handler's change is made in (both commit, or neither does)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.Response:
        deps = request.app[DEPS]
        signed = await _verified(request)
        now = deps.clock.now()
        until = now + deps.kept_for
        async with deps.store.unit() as uow:
            if not await uow.answers.claim(signed.request_id, signed.request_hash, now, until):
                return _again(await uow.answers.recall(signed.request_id), signed, deps.box)
            response = await handler(request, signed, uow)
            answer = _answer(_kept(response, signed), signed, deps.box)
            await uow.answers.keep(signed.request_id, answer, now, until)
        return response

    return run


def secret(response: web.Response, *fields: str) -> web.Response:
    """Mark ``fields`` of a signed write's answer as secret: they are given in this answer only.

    Its resends get ``409 answer_withheld`` naming them; the secret is neither kept nor replayed.
    """
    response[SECRET_FIELDS] = fields
    return response


async def _verified(request: web.Request) -> SignedRequest:
    # The content type was checked by the API's json-only middleware.
    return await request.app[DEPS].auth.verifier.verify(request)


def _kept(response: web.Response, signed: SignedRequest) -> web.Response:
    fields: tuple[str, ...] = response.get(SECRET_FIELDS, ())
    if not fields:
        return response
    message = (
        f"the answer to request id {signed.request_id} held a secret ({', '.join(fields)}), "
        "given in that answer only; send a new request with a new request id"
    )
    return error_response(409, AnswerWithheld.code, message, dict.fromkeys(fields, WITHHELD))


def _answer(response: web.Response, signed: SignedRequest, box: SecretBox | None) -> SignedAnswer:
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else None
    sealed = box.seal(_name(signed), body) if box is not None and body else None
    return SignedAnswer(
        request_hash=signed.request_hash,
        status=response.status,
        content_type=response.content_type if body else None,
        key_id=sealed.key_id if sealed else None,
        body=sealed.blob if sealed else body,
    )


def _again(kept: SignedAnswer | None, signed: SignedRequest, box: SecretBox | None) -> web.Response:
    if kept is None:  # its claim was taken, then swept as expired before this read
        raise StoreError(f"the answer to request id {signed.request_id} was just forgotten")
    if kept.request_hash != signed.request_hash:
        raise RequestIdReused(
            f"request id {signed.request_id} was already used for a different request"
        )
    body = kept.body
    if body is not None and kept.key_id is not None:
        if box is None:
            raise AnswerUnavailable()
        try:
            body = box.open(_name(signed), Sealed(kept.key_id, body))
        except StoreError:
            raise AnswerUnavailable() from None
    response = web.Response(status=kept.status, body=body, content_type=kept.content_type)
    response.headers[REPLAYED] = "true"
    return response


def _name(signed: SignedRequest) -> str:
    return answer_name(signed.request_id)
