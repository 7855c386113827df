"""Step events: one signed ``approval.reminded`` or ``approval.escalated`` webhook per reminder
or escalation step run, when asked for (``backend_step_events``).

The job is written in the unit that records the step in the card's history (``enqueue``), with
the event as its payload: a step whose line commits has its event, one that does not has none.
Its id is derived from the step's job ref (``"<request id>/<step key>"``, unique per step and
request), so a step run again after a crash carries the same id and the backend, which
de-duplicates on ``webhook-id``, sees it once.
"""

from __future__ import annotations

import logging
import uuid

from bot.core.models import Job
from bot.core.ports import Backend, StepEvent, UnitOfWork
from bot.logs import bind, kv

FORWARD_STEP = "forward_step"
_EVENT_IDS = uuid.UUID("0c7d5e3a-8b1f-4f6e-9d2a-5e4b3c2a1f07")  # namespace of step event ids
log = logging.getLogger("bot.jobs")


def event_id(ref: str) -> str:
    """The step event's id: fixed by the step's job ref, so every retry carries the same one."""
    return uuid.uuid5(_EVENT_IDS, ref).hex


async def enqueue(uow: UnitOfWork, ref: str, event: StepEvent) -> None:
    """Queue the step's event in the unit that records the step."""
    await uow.outbox.enqueue(FORWARD_STEP, ref, event.at, event.model_dump_json())


class StepForwarder:
    """Runs ``forward_step`` jobs: the event the job carries, signed and POSTed."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def run(self, job: Job) -> None:
        """Send the step event the job carries."""
        event = StepEvent.model_validate(job.payload)
        with bind(event_id=event.event_id):
            receipt = await self._backend.deliver(event)
            log.info("step forwarded", extra=kv(type=event.type, status=receipt.status))
