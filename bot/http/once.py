"""Signed backend calls, each acted on once: the idempotency and replay memory.

Following the IETF Idempotency-Key draft and Stripe: the answer (status and body) to a signed
request that changes state is kept with its request id and the hash of its method, path, query
and body, in the same transaction as the change. A resend under the same id, byte-identical or
re-signed, is given the kept answer (with ``Idempotent-Replayed: true``) and acts no second time;
the same id with another request is ``409``. A refusal (any 4xx raised by the handler) rolls the
transaction back, so it writes nothing and keeps nothing: sending it again is asking again.

Kept bodies are sealed with the master key (AES-GCM, named by request id): an answer may hold a
secret, such as a fresh binding code.

Replay protection is this memory plus the signature's time window: the memory keeps each id for
far longer than the window, so inside the window a captured request can only be answered again.
Expired answers are swept periodically by the outbox worker (``bot.outbox.worker``), not here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.ports import SignedAnswer
from bot.errors import Conflict, StoreError
from bot.http.deps import DEPS
from bot.http.signatures import SignedRequest
from bot.secrets import Sealed, SecretBox, answer_name

SignedHandler = Callable[[web.Request, SignedRequest], Awaitable[web.Response]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

REPLAYED = "Idempotent-Replayed"


class AnswerUnavailable(Conflict):
    """The kept answer to this request id cannot be opened (its master key is gone); send the
    request again under a new id."""

    code = "answer_unavailable"


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


def signed_write(handler: SignedHandler) -> Handler:
    """A signed call that changes state: verified, acted on once, its answer kept."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.Response:
        deps = request.app[DEPS]
        signed = await _verified(request)
        now = deps.clock.now()
        async with deps.store.write() as tx:
            kept = await tx.recall_answer(signed.request_id)
            if kept is not None:
                return _again(kept, signed, deps.box)
            response = await handler(request, signed)
            answer = _answer(response, signed, deps.box)
            await tx.keep_answer(signed.request_id, answer, now, now + deps.kept_for)
        return response

    return run


async def _verified(request: web.Request) -> SignedRequest:
    # The content type was checked by the API's json-only middleware.
    return await request.app[DEPS].auth.verifier.verify(request)


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


def _again(kept: SignedAnswer, signed: SignedRequest, box: SecretBox | None) -> web.Response:
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
