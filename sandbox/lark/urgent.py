"""Lark urgency (加急): ``PATCH /open-apis/im/v1/messages/:message_id/urgent_app|sms|phone``.

Follows open.larksuite.com/document/server-docs/im-v1/buzz-messages/urgent_app (and
.../urgent_sms, .../urgent_phone; notes: lark.md "Urgency"): ``user_id_type`` in the query,
``{"user_id_list": [...]}`` in the body, ``{"data": {"invalid_user_id_list": [...]}}`` back.
Error codes, all HTTP 400, from the docs' error table (mirrored at apifox.com/apidoc/docs-site/
532425/api-58366463): 230001 invalid parameter, 230012 "Bot is NOT the sender of the message",
230023 "The user has too many unread urgent messages" (at most 200 unread per user),
230024 "Reach the upper limit of urgent message" (the tenant's SMS/phone quota is spent).
The token check, rate limits and request log come from the OpenAPI middleware.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.lark.state import INVALID_PARAM, ApiError, LarkStore

NOT_SENDER = 230012
TOO_MANY_UNREAD = 230023
QUOTA_SPENT = 230024
UNREAD_LIMIT = 200
KINDS = ("app", "sms", "phone")
USER_ID_TYPES = ("open_id", "union_id", "user_id")


@dataclass(frozen=True)
class Urgent:
    """One urgency delivered: which message, how, to whom (an open_id)."""

    message_id: str
    kind: str
    open_id: str


class LarkUrgent:
    """The three urgency routes of one sandbox app, with its unread counts and paid quota."""

    def __init__(self, store: LarkStore) -> None:
        self.store = store
        self.sent: list[Urgent] = []
        self.unread: Counter[str] = Counter()
        # SMS and phone urgency draw on the tenant's paid quota: none until a test grants some.
        self.quota: dict[str, int | None] = {"app": None, "sms": 0, "phone": 0}
        self._lock = threading.Lock()

    def install(self, app: web.Application) -> None:
        """Add the routes to ``app`` (which carries the OpenAPI middleware)."""
        for kind in KINDS:
            path = f"/open-apis/im/v1/messages/{{message_id}}/urgent_{kind}"
            app.router.add_patch(path, self._handler(kind))

    def read(self, open_id: str) -> None:
        """The user opened their urgent messages: the unread count starts again."""
        with self._lock:
            self.unread[open_id] = 0

    def _handler(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            return self._answer(kind, request.match_info["message_id"], request.query, body)

        return handle

    def _answer(self, kind: str, message_id: str, query: Any, body: Any) -> web.Response:
        id_type = query.get("user_id_type", "open_id")
        ids = body.get("user_id_list") if isinstance(body, dict) else None
        if id_type not in USER_ID_TYPES or not isinstance(ids, list) or not ids:
            raise ApiError(400, INVALID_PARAM, "user_id_list must be a non-empty list")
        message = self.store.message(message_id)
        if message.sender != "bot":  # only the bot's own messages can be made urgent
            raise ApiError(400, NOT_SENDER, "Bot is NOT the sender of the message.")
        users = [self.store.find_user(id_type, str(value)) for value in ids]
        # The sandbox's chats are 1:1: only the message's receiver is in its chat.
        valid = [u.open_id for u in users if u is not None and u.open_id == message.open_id]
        invalid = [
            str(v) for v, u in zip(ids, users, strict=True) if u is None or u.open_id not in valid
        ]
        with self._lock:
            self._charge(kind, valid)
            self.sent += [Urgent(message_id, kind, open_id) for open_id in valid]
        return web.json_response(
            {"code": 0, "msg": "success", "data": {"invalid_user_id_list": invalid}}
        )

    def _charge(self, kind: str, open_ids: list[str]) -> None:
        if any(self.unread[open_id] >= UNREAD_LIMIT for open_id in open_ids):
            raise ApiError(400, TOO_MANY_UNREAD, "The user has too many unread urgent messages.")
        left = self.quota[kind]
        if left is not None and left < len(open_ids):
            raise ApiError(400, QUOTA_SPENT, "Reach the upper limit of urgent message.")
        if left is not None:
            self.quota[kind] = left - len(open_ids)
        self.unread.update(open_ids)
