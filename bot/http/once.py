"""Signed backend calls, each acted on once: the idempotency and replay memory.

Following the IETF Idempotency-Key draft and Stripe: the answer (status and body) to a signed
request that changes state is kept with its request id and the hash of its method, path, query
and body, in the same transaction as the change. A resend under the same id, byte-identical or
re-signed, is given the kept answer (with ``Idempotent-Replayed: true``) and acts no second time;
the same id with another request is ``409``. A refusal (any 4xx raised by the handler) rolls the
transaction back, so it writes nothing and keeps nothing: sending it again is asking again.

Replay protection is this memory plus the signature's time window: the memory keeps each id for
far longer than the window, so inside the window a captured request can only be answered again.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.ports import SignedAnswer
from bot.errors import Conflict, UnsupportedMediaType
from bot.http.deps import DEPS
from bot.http.signatures import SignedRequest

SignedHandler = Callable[[web.Request, SignedRequest], Awaitable[web.Response]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

REPLAYED = "Idempotent-Replayed"
_SWEEP = 20  # expired answers dropped per write: bounded work, and it keeps up with intake


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
                return _again(kept, signed)
            response = await handler(request, signed)
            await tx.keep_answer(
                signed.request_id, _answer(response, signed), now, now + deps.kept_for
            )
            await tx.forget_answers(now, _SWEEP)
        return response

    return run


async def _verified(request: web.Request) -> SignedRequest:
    signed = await request.app[DEPS].auth.verifier.verify(request)
    if signed.body and request.content_type != "application/json":
        raise UnsupportedMediaType()
    return signed


def _answer(response: web.Response, signed: SignedRequest) -> SignedAnswer:
    body = response.body
    return SignedAnswer(
        request_hash=signed.request_hash,
        status=response.status,
        content_type=response.content_type if body else None,
        body=bytes(body).decode() if isinstance(body, bytes | bytearray) else None,
    )


def _again(kept: SignedAnswer, signed: SignedRequest) -> web.Response:
    if kept.request_hash != signed.request_hash:
        raise RequestIdReused(
            f"request id {signed.request_id} was already used for a different request"
        )
    response = web.Response(status=kept.status, text=kept.body, content_type=kept.content_type)
    response.headers[REPLAYED] = "true"
    return response
