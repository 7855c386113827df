"""``lark.ws.Client`` with event handling that awaits instead of blocking the SDK's only loop.

lark-oapi 1.7.5 (``lark_oapi/ws/client.py``, ``Client._handle_data_frame``) calls the event
dispatcher synchronously on the long connection's single event loop and writes the ACK when it
returns. A handler that waits for the gateway's decision therefore stalls every other frame: two
clicks arriving together were answered at 2.5 s and 4.6 s, and Lark counts an answer after 3 s
as failed. This subclass keeps the SDK's frame parsing, multi-part reassembly and ACK format,
but awaits an async handler, so each frame is handled in its own task (the SDK already creates
one per message), stamps each frame's arrival so its budget counts from then, and tells the
handler whether its ACK was written.
"""

from __future__ import annotations

import base64
import http
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import lark_oapi as lark
from lark_oapi.core.const import UTF_8
from lark_oapi.core.json import JSON
from lark_oapi.ws.client import _get_by_key
from lark_oapi.ws.const import (
    HEADER_BIZ_RT,
    HEADER_MESSAGE_ID,
    HEADER_SEQ,
    HEADER_SUM,
    HEADER_TRACE_ID,
    HEADER_TYPE,
)
from lark_oapi.ws.enum import MessageType
from lark_oapi.ws.model import Response

from bot.channels.common.bridge import ARRIVED, AfterAck
from bot.logs import kv

log = logging.getLogger("bot.channels.lark")


# The handler: the event payload in, the ACK's data (None: none) and who to tell once it is sent.
EventHandler = Callable[[bytes], Awaitable[tuple[Any, AfterAck | None]]]


class GatewayWsClient(lark.ws.Client):  # type: ignore[misc]
    """The SDK's long-connection client, with ``on_event`` awaited per frame."""

    def __init__(self, *args: Any, on_event: EventHandler, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_event = on_event
        self.frames_in_flight = 0  # events being handled and not answered yet

    async def _handle_message(self, msg: bytes) -> None:
        # Each message runs in its own task (``_receive_message_loop``): stamp it on arrival.
        ARRIVED.set(time.monotonic())
        await super()._handle_message(msg)

    async def _handle_data_frame(self, frame: Any) -> None:
        headers = frame.headers
        message_id = _get_by_key(headers, HEADER_MESSAGE_ID)
        _get_by_key(headers, HEADER_TRACE_ID)  # required, as the SDK requires them
        total, seq = int(_get_by_key(headers, HEADER_SUM)), int(_get_by_key(headers, HEADER_SEQ))
        kind = MessageType(_get_by_key(headers, HEADER_TYPE))
        payload = frame.payload
        if total > 1:
            payload = self._combine(message_id, total, seq, payload)
            if payload is None:
                return
        if kind != MessageType.EVENT:
            return  # type=card frames are ignored by the SDK as well, without an ACK
        self.frames_in_flight += 1
        try:
            answer, after = await self._answer(payload, headers)
            frame.payload = JSON.marshal(answer).encode(UTF_8)
            written = await self._write(frame, message_id)
        finally:
            self.frames_in_flight -= 1
        if after is not None:
            after(written)

    async def _answer(self, payload: bytes, headers: Any) -> tuple[Response, AfterAck | None]:
        began = time.monotonic()
        try:
            result, after = await self._on_event(payload)
        except Exception:
            log.exception("lark event handling failed")
            return Response(code=http.HTTPStatus.INTERNAL_SERVER_ERROR), None
        header = headers.add()
        header.key, header.value = HEADER_BIZ_RT, str(int((time.monotonic() - began) * 1000))
        answer = Response(code=http.HTTPStatus.OK)
        if result is not None:
            answer.data = base64.b64encode(JSON.marshal(result).encode(UTF_8))
        return answer, after

    async def _write(self, frame: Any, message_id: str) -> bool:
        try:
            await self._write_message(frame.SerializeToString())
        except Exception as exc:
            log.warning(
                "ACK not written", extra=kv(frame=message_id, why=f"{type(exc).__name__}: {exc}")
            )
            return False
        return True
