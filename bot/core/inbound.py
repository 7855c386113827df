"""The one inbound dispatch: what every channel receives, handed to the use case it belongs to.

Each platform package translates its own payloads into :class:`~bot.core.models.InboundAction`
and :class:`~bot.core.ports.InboundMessage` (its ``inbound.py``) and reads the answer back; this
is the :class:`~bot.core.ports.InboundSink` they all hand them to. A click goes to
:meth:`ApprovalService.handle_action`, what became of its answer to
:meth:`ApprovalService.answered` (which leaves the redraw to :mod:`bot.core.redraw`), a chat
message to :class:`SelfBinding`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot import tracing
from bot.core.models import ActionResult, InboundAction
from bot.core.ports import InboundMessage
from bot.core.selfbind import SelfBinding
from bot.core.service import ApprovalService
from bot.logs import bind, kv

log = logging.getLogger("bot.inbound")
ClickCounter = Callable[[str, str, float], None]
"""Counts one answered click by channel, answer status and seconds taken (the metrics)."""


def _uncounted(channel: str, status: str, seconds: float) -> None:
    """No metrics to keep (tools and tests that run without them)."""


class InboundDispatch:
    """The :class:`~bot.core.ports.InboundSink` of every channel."""

    def __init__(
        self,
        service: ApprovalService,
        selfbind: SelfBinding,
        count: ClickCounter = _uncounted,
    ) -> None:
        self._service = service
        self._selfbind = selfbind
        self._count = count

    async def action(self, action: InboundAction) -> ActionResult:
        """A click from any channel, decided by the service."""
        started, started_ns = time.perf_counter(), tracing.now_ns()
        result = await self._service.handle_action(action)
        self._count(action.channel, result.status.value, time.perf_counter() - started)
        request_id, ticket_id = _ids(result)
        if request_id and ticket_id:
            status = result.status.value
            tracing.record(
                "approval.click",
                request_id,
                ticket_id,
                started_ns,
                channel=action.channel,
                status=status,
            )
        with bind(request_id=request_id, ticket_id=ticket_id):
            log.info(
                "click answered",
                extra=kv(channel=action.channel, status=result.status.value, source=action.source),
            )
        return result

    async def answered(self, result: ActionResult, *, redrawn: bool, how: str = "") -> None:
        """What became of a click's answer (see :meth:`ApprovalService.answered`)."""
        await self._service.answered(result, redrawn=redrawn, how=how)

    async def message(self, message: InboundMessage) -> str | None:
        """A chat message to the bot: ``bind CODE``, or a hint on how to bind."""
        return await self._selfbind.answer(message)


def _ids(result: ActionResult) -> tuple[str | None, str | None]:
    # The request the click was on and its ticket, when the click named a known card.
    request = result.request
    if request is None:
        return None, None
    return request.id, request.ticket.ticket_id
