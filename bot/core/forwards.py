"""A decision's way to the backend: the webhook event, carried by the decision's forward job.

The click that decides a request holds the decision, the closed request and every vote: the
event is built there and stored in the forward job's payload, in the click's own transaction.
The job's first attempt then POSTs it right after its claim, with no read of its own: behind a
burst of clicks every transaction of the forward waits for a connection in the same queue as
the clicks, and the read was one of three.

The event cannot be stale: the request is closed and its votes are final when it is built. Nor
can a first attempt forward a decision twice: the forward is recorded in the unit that
completes its job (``JobRunner._forward``) and a failure in the unit that buries it, so while
the job is still to run on its first claim, nothing has recorded its decision. Any later attempt
(a lease that ran out, an error retried) reads the decision as stored and skips one already
forwarded, as does a job queued without its event (a decision at expiry, a job queued by an
older gateway).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.core.models import Decision, ForwardState, Job, StoredRequest
from bot.core.ports import DecisionEvent
from bot.core.vote_events import record, stage_results

POLICY = "policy"  # a decision's source when the request's on_expiry made it


@dataclass(frozen=True)
class Forwarding:
    """What a forward job sends: the event, the request it closed, and whether it is still to
    be sent (False: recorded already, forwarded or failed for good)."""

    request_id: str
    event: DecisionEvent
    pending: bool = True

    @property
    def ticket_id(self) -> str:
        """The ticket the decision is for."""
        return self.event.ticket_id


def decision_event(decision: Decision, request: StoredRequest) -> DecisionEvent:
    """The webhook body of ``decision``, closing ``request`` (with its votes)."""
    return DecisionEvent(
        event_id=decision.id,
        ticket_id=request.ticket.ticket_id,
        decision=decision.outcome.value,
        approver={"account_id": decision.account_id, "display_name": decision.display_name},
        channel=decision.channel,
        comment=decision.comment,
        decided_at=decision.decided_at,
        votes=tuple(record(vote) for vote in request.votes),
        stages=stage_results(request.ticket, list(request.votes)),
        decided_by="policy" if decision.source == POLICY else "approver",
    )


def payload(decision: Decision, request: StoredRequest) -> str:
    """The forward job's payload: the event, built where the decision is made."""
    event = decision_event(decision, request).model_dump(mode="json")
    return json.dumps({"request_id": request.id, "event": event})


def carried(job: Job) -> Forwarding | None:
    """The event a first attempt sends as its job carries it; None: read the decision."""
    event = job.payload.get("event")
    if job.attempts > 1 or event is None:
        return None
    return Forwarding(str(job.payload["request_id"]), DecisionEvent.model_validate(event))


def stored(decision: Decision, request: StoredRequest) -> Forwarding:
    """The event of a decision as read from the store, and whether it is still to be sent."""
    pending = decision.forward_state is ForwardState.PENDING
    return Forwarding(request.id, decision_event(decision, request), pending)
