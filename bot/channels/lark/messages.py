"""The Lark/Feishu OpenAPI calls the channel makes: messages, the delayed card update, lookups.

Each goes through :meth:`Messages.call`: a slot of the app's per-API budgets (the platform
allows 50 calls a second and 1000 in any minute: a per-second pace and a sliding window of the
minute) and, for a send, of the receiver's; this app's tenant token (refreshed once when the
platform refuses it) and the error mapping of :mod:`bot.channels.lark.api`. The budgets are a
``RateLimits`` port: this process's own until the gateway hands the channel the ones its
replicas share.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.common.ratelimit import PACE_WITHIN, SYSTEM_TIMER, UPDATE_WITHIN, Timer, take
from bot.channels.lark.api import Answer, TenantToken, Throttled, Transport, check, token_refused
from bot.core.limits import Budget, RateLimits, Window
from bot.errors import ChannelError
from bot.logs import kv
from bot.settings.config import LarkSettings
from cards import LARK_CARD_LIMIT
from cards.lark import lark_json

log = logging.getLogger("bot.channels.lark")

MESSAGES = "/open-apis/im/v1/messages"
CARD_UPDATE = "/open-apis/interactive/v1/card/update"
BATCH_GET_ID = "/open-apis/contact/v3/users/batch_get_id"
TEXT_BODY_LIMIT = 150 * 1024  # "文本消息请求体最大不能超过150KB" (im-v1 message create/patch)


class Messages:
    """One Lark app's outbound OpenAPI client."""

    def __init__(
        self, settings: LarkSettings, app_id: str, secret: str, limits: RateLimits
    ) -> None:
        self._settings = settings
        self._app_id = app_id
        self.transport = Transport(settings.domain)
        self.token = TenantToken(self.transport, app_id, secret)
        self.limits = limits  # the app's budgets, as the composition root chose them
        self.timer: Timer = SYSTEM_TIMER  # the clock ``limits`` grants slots by

    async def close(self) -> None:
        """Close the app's HTTP session."""
        await self.transport.close()

    async def create(
        self, receiver: str, id_type: str, msg_type: str, content: str, uuid: str | None = None
    ) -> str:
        """A direct message (idempotent by ``uuid`` when given); its message_id."""
        body: dict[str, Any] = {"receive_id": receiver, "msg_type": msg_type, "content": content}
        if uuid is not None:
            body["uuid"] = uuid
        data = _within("im.message.create", body, TEXT_BODY_LIMIT if msg_type == "text" else None)
        # "Sending to one user: 5 QPS" is the receiver's budget, on top of the API's.
        user = self._budget(f"user:{receiver}", self._settings.user_qps)
        answer = await self.call(
            "im.message.create",
            "POST",
            MESSAGES,
            data,
            params={"receive_id_type": id_type},
            user=user,
        )
        return str(answer.data.get("message_id", ""))

    async def patch(self, message_id: str, content: str, receiver: str | None) -> None:
        """Replace a sent card's content (the platform limits updates of one message to 5/s)."""
        one = self._budget(f"message:{message_id}", self._settings.user_qps)
        path = f"{MESSAGES}/{message_id}"
        data = _within("im.message.patch", {"content": content})
        await self.call("im.message.patch", "PATCH", path, data, user=one, within=UPDATE_WITHIN)

    async def urgent(self, message_id: str, kind: str, receiver: str, id_type: str) -> None:
        """Make a message the bot sent urgent for ``receiver`` (``urgent_app``, ``_sms``,
        ``_phone``); ChannelError when refused or the receiver is listed as invalid."""
        api = f"im.message.urgent_{kind}"
        answer = await self.call(
            api,
            "PATCH",
            f"{MESSAGES}/{message_id}/urgent_{kind}",
            {"user_id_list": [receiver]},
            params={"user_id_type": id_type},
        )
        if answer.data.get("invalid_user_id_list"):
            raise ChannelError(f"{api}: {receiver} cannot be reached there", retryable=False)

    async def open_id_by_email(self, email: str) -> str | None:
        """The open_id of the tenant user with this email (None: unknown or out of scope)."""
        answer = await self.call(
            "contact.user.batch_get_id",
            "POST",
            BATCH_GET_ID,
            {"emails": [email]},
            params={"user_id_type": "open_id"},
        )
        users = answer.data.get("user_list") or []
        found = next(
            (u.get("user_id") for u in users if isinstance(u, dict) and u.get("user_id")), None
        )
        return str(found) if found else None

    async def delayed_update(self, token: str, card: dict[str, Any]) -> None:
        """Replace a clicked card after the callback was answered (the click's token)."""
        body = {"token": token, "card": card}
        data = _within("interactive.card.update", body)
        await self.call("interactive.card.update", "POST", CARD_UPDATE, data)

    async def call(
        self,
        api: str,
        method: str,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        params: dict[str, str] | None = None,
        user: Budget | None = None,
        within: float = PACE_WITHIN,
    ) -> Answer:
        """One OpenAPI call: budgets, our tenant token (refreshed once if refused), errors.
        ``body``: the JSON object, or its bytes as :func:`_within` wrote them."""
        pace, windows = self.app_budgets(api)
        for attempt in (1, 2):
            free = [user] if user is not None else []
            await take(
                self.limits, pace, free, what=api, timer=self.timer, windows=windows, within=within
            )
            token = await self.token.get()
            answer = await self.transport.request(
                method, path, token=token, params=params, body=body
            )
            if attempt == 1 and token_refused(answer):
                log.info("tenant token refused; refreshing", extra=kv(api=api, code=answer.code))
                self.token.forget(token)
                continue
            try:
                check(
                    api,
                    answer,
                    app_key=pace.key,  # the per-second pace: a pause of it holds every call
                    user_key=user.key if user is not None else None,
                    fallback=self._settings.throttle_retry_seconds,
                )
            except Throttled as exc:
                # Past the pace's burst too, or its first calls would go inside the pause.
                extra = pace.tolerance if exc.throttle.key == pace.key else 0.0
                await self.limits.pause(exc.throttle.key, exc.throttle.seconds + extra)
                raise
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def app_budgets(self, api: str) -> tuple[Budget, tuple[Window, Window]]:
        """The app's budgets of ``api``: the per-second pace (with its burst), and the windows
        of the second and of the minute."""
        settings = self._settings
        key = f"lark:{self._app_id}:api:{api}"
        second = settings.app_per_second / settings.app_qps
        return (
            Budget(key, settings.app_qps, min(settings.app_burst, settings.app_per_second)),
            (
                Window(f"{key}:second", settings.app_per_second, second),
                Window(f"{key}:minute", settings.app_per_minute, settings.app_minute_seconds),
            ),
        )

    def _budget(self, what: str, rate: float) -> Budget:
        return Budget(f"lark:{self._app_id}:{what}", rate)


def _within(api: str, body: dict[str, Any], limit: int | None = None) -> bytes:
    """``body`` as sent, checked against the platform's limit: written once, for the check
    and the wire."""
    # The cards are fitted to the body as sent (cards.lark.lark_body_size): a body over the
    # platform's limit would be refused (230025) on every retry, so it is never sent.
    data, most = lark_json(body), limit or LARK_CARD_LIMIT
    if len(data) > most:
        raise ChannelError(f"{api}: request body {len(data)} bytes is over {most}", retryable=False)
    return data
