"""The Lark/Feishu OpenAPI calls the channel makes: messages, the delayed card update, lookups.

Each goes through :meth:`Messages.call`: the app's and the receiver's limiters, this app's own
tenant token (refreshed once when the platform refuses it) and the error mapping of
:mod:`bot.channels.lark.api`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import lark_oapi as lark
from lark_oapi.api.contact.v3 import BatchGetIdUserRequest, BatchGetIdUserRequestBody
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
)

from bot.channels.lark.api import Limits, TenantToken, build_client, check, option, token_refused
from bot.config import LarkSettings
from bot.errors import ChannelError
from bot.logs import kv

log = logging.getLogger("bot.channels.lark")

CARD_UPDATE = "/open-apis/interactive/v1/card/update"
Call = Callable[[lark.RequestOption], Any]  # the SDK call: an awaitable of its response


class Messages:
    """One Lark app's outbound OpenAPI client."""

    def __init__(self, settings: LarkSettings, app_id: str, secret: str) -> None:
        self._settings = settings
        self.client = build_client(app_id, secret, settings.domain)
        self.token = TenantToken(self.client, app_id, secret)
        self.limits = Limits(settings.app_qps, settings.user_qps)

    async def create(
        self, receiver: str, id_type: str, msg_type: str, content: str, uuid: str | None = None
    ) -> str:
        """A direct message (idempotent by ``uuid`` when given); its message_id."""

        def create(opt: lark.RequestOption) -> Any:
            body = CreateMessageRequestBody.builder().receive_id(receiver).msg_type(msg_type)
            if uuid is not None:
                body = body.uuid(uuid)
            request = (
                CreateMessageRequest.builder()
                .receive_id_type(id_type)
                .request_body(body.content(content).build())
                .build()
            )
            return self.client.im.v1.message.acreate(request, opt)

        answer = await self.call("im.message.create", receiver, create)
        return str(answer.data.message_id)

    async def patch(self, message_id: str, content: str, receiver: str | None) -> None:
        """Replace a sent card's content."""

        def patch(opt: lark.RequestOption) -> Any:
            body = PatchMessageRequestBody.builder().content(content).build()
            request = (
                PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
            )
            return self.client.im.v1.message.apatch(request, opt)

        await self.call("im.message.patch", receiver, patch)

    async def open_id_by_email(self, email: str) -> str | None:
        """The open_id of the tenant user with this email (None: unknown or out of scope)."""

        def find(opt: lark.RequestOption) -> Any:
            body = BatchGetIdUserRequestBody.builder().emails([email]).build()
            request = (
                BatchGetIdUserRequest.builder().user_id_type("open_id").request_body(body).build()
            )
            return self.client.contact.v3.user.abatch_get_id(request, opt)

        answer = await self.call("contact.user.batch_get_id", None, find)
        users = getattr(answer.data, "user_list", None) or []
        open_id = next((u.user_id for u in users if u.user_id), None)
        return str(open_id) if open_id else None

    async def delayed_update(self, token: str, card: dict[str, Any]) -> None:
        """Replace a clicked card after the callback was answered (the click's token)."""

        def post(opt: lark.RequestOption) -> Any:
            request = (
                lark.BaseRequest.builder()
                .http_method(lark.HttpMethod.POST)
                .uri(CARD_UPDATE)
                .token_types({lark.AccessTokenType.TENANT})
                .body({"token": token, "card": card})
                .build()
            )
            return self.client.arequest(request, opt)

        await self.call("interactive.card.update", None, post)

    async def call(self, api: str, user: str | None, make: Call) -> Any:
        """One OpenAPI call: limiters, our tenant token (refreshed once if refused), errors."""
        for attempt in (1, 2):
            await self.limits.acquire(user)
            token = await self.token.get()
            try:
                answer = await make(option(token))
            except (httpx.HTTPError, ValueError) as exc:
                raise ChannelError(f"{api} failed: {type(exc).__name__}") from exc
            if attempt == 1 and token_refused(answer):
                log.info("tenant token refused; refreshing", extra=kv(api=api))
                self.token.forget()
                continue
            check(api, answer, self.limits, user, self._settings.throttle_retry_seconds)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover
