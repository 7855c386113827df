"""Per-vote events: one signed ``approval.vote`` webhook per counted vote, when asked for.

The job is written in the vote's own transaction (``enqueue``), so a vote that commits has its
event and a vote that does not (a double tap, a crash before the commit) has none: exactly one
per counted vote. A vote has no id of its own (it is keyed by request, stage and account), so
the job's ref is that key and the event id is derived from it: the same on every retry, for the
backend to de-duplicate on as it does for decisions.
"""

from __future__ import annotations

import logging
import uuid

from bot.core.intake import ApprovalRequest
from bot.core.models import Job, StoredRequest, Vote
from bot.core.policy import Policy, outcome
from bot.core.ports import Backend, StageResult, Store, UnitOfWork, VoteEvent, VoteRecord
from bot.logs import bind, kv

FORWARD_VOTE = "forward_vote"
_EVENT_IDS = uuid.UUID("6f1b8c52-4c1e-4c43-9a51-0d7f3e2a9b10")  # namespace of vote event ids
log = logging.getLogger("bot.jobs")


async def enqueue(uow: UnitOfWork, request_id: str, vote: Vote) -> None:
    """Queue the vote's event in the unit that stores the vote."""
    await uow.outbox.enqueue(FORWARD_VOTE, f"{request_id}/{vote.stage}/{vote.account_id}", vote.at)


def event_id(ref: str) -> str:
    """The vote event's id: fixed by the vote's key, so every retry carries the same one."""
    return uuid.uuid5(_EVENT_IDS, ref).hex


def record(vote: Vote) -> VoteRecord:
    """A vote as the webhooks carry it."""
    return VoteRecord(
        account_id=vote.account_id,
        display_name=vote.display_name,
        outcome=vote.outcome.value,
        comment=vote.comment,
        channel=vote.channel,
        at=vote.at,
        stage=vote.stage,
    )


def stage_results(ticket: ApprovalRequest, votes: list[Vote]) -> tuple[StageResult, ...]:
    """Each stage's tally and state after ``votes``."""
    progress = outcome(Policy.from_request(ticket), votes)
    return tuple(
        StageResult(
            name=stage.name,
            rule=stage.rule.value,
            needed=stage.needed,
            result=stage.state.value,
            approved=len(stage.approved),
            rejected=len(stage.rejected),
        )
        for stage in progress.stages
    )


class VoteForwarder:
    """Runs ``forward_vote`` jobs: the vote's event, signed and POSTed like a decision."""

    def __init__(self, store: Store, backend: Backend) -> None:
        self._store = store
        self._backend = backend

    async def run(self, job: Job) -> None:
        """Send the event of the vote the job names (nothing when it is gone)."""
        request_id, stage, account_id = job.ref.split("/", 2)
        async with self._store.snapshot() as uow:
            request = await uow.requests.get(request_id)
            votes = await uow.votes.of_request(request_id) if request else []
        if request is None:
            return
        with bind(event_id=event_id(job.ref)):
            event = _event(job.ref, request, votes, int(stage), account_id)
            if event is None:
                return
            receipt = await self._backend.deliver(event)
            log.info("vote forwarded", extra=kv(status=receipt.status))


def _event(
    ref: str, request: StoredRequest, votes: list[Vote], stage: int, account_id: str
) -> VoteEvent | None:
    # The tally as this vote left it: the votes up to it, in the order they came.
    at = next(
        (i for i, v in enumerate(votes) if (v.stage, v.account_id) == (stage, account_id)), None
    )
    if at is None:
        return None
    return VoteEvent(
        event_id=event_id(ref),
        ticket_id=request.ticket.ticket_id,
        vote=record(votes[at]),
        stages=stage_results(request.ticket, votes[: at + 1]),
    )
