"""Approval requests and their decisions (implements ``bot.core.ports.RequestRepo``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.models import (
    ApprovalRequest,
    Decision,
    ForwardState,
    RequestStatus,
    StoredRequest,
)
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.repos.rows import Rows, carried_events, decision, deliveries_of, delivery, from_json
from bot.store.tx import Row


class RequestRows(Rows):
    """The ``requests`` and ``decisions`` tables; a request is loaded with its deliveries and
    decision (carried by the one statement where the engine can, else read after it)."""

    async def insert(self, request: StoredRequest) -> bool:
        """Store a new request; False (nothing stored) if its ticket is already stored."""
        inserted = await self._tx.execute(
            self.sql.insert_request,
            (
                request.id,
                request.ticket.ticket_id,
                request.status.value,
                request.ticket.model_dump_json(),
                ts(request.created_at),
                ts(request.ticket.expires_at),
            ),
        )
        return inserted == 1

    async def get(self, request_id: str) -> StoredRequest | None:
        """The request by its id."""
        row = await self._tx.fetch_one(self.sql.get_request, (request_id,))
        return await self._hydrate(row) if row else None

    async def status(self, request_id: str) -> RequestStatus | None:
        """The request's status alone."""
        row = await self._tx.fetch_one(self.sql.request_status, (request_id,))
        return RequestStatus(row["status"]) if row else None

    async def find(self, ticket_id: str) -> StoredRequest | None:
        """The request of a ticket."""
        row = await self._tx.fetch_one(self.sql.find_request, (ticket_id,))
        return await self._hydrate(row) if row else None

    async def by_decision(self, decision_id: str) -> StoredRequest | None:
        """The request a decision closed."""
        row = await self._tx.fetch_one(self.sql.get_request_by_decision, (decision_id,))
        return await self._hydrate(row) if row else None

    async def _hydrate(self, row: Row) -> StoredRequest:
        tx = self._tx
        if tx.rows_carry_children:
            carried = from_json(row["deliveries"])
            deliveries = [delivery(d, carried_events(d["events"])) for d in carried]
            decided = from_json(row["decision"])
        else:
            deliveries = await deliveries_of(tx, row["id"])
            decided = await tx.fetch_one(self.sql.decision_of_request, (row["id"],))
        return StoredRequest(
            id=row["id"],
            ticket=ApprovalRequest.model_validate_json(row["ticket"]),
            status=RequestStatus(row["status"]),
            created_at=parse_ts(row["created_at"]),
            closed_at=opt_ts(row["closed_at"]),
            close_reason=row["close_reason"],
            deliveries=tuple(deliveries),
            decision=decision(decided) if decided else None,
        )

    async def close(
        self, request_id: str, status: RequestStatus, at: datetime, reason: str | None
    ) -> bool:
        """Move a pending request to a final status; False if it was no longer pending."""
        changed = await self._tx.execute(
            self.sql.close_request, (status.value, ts(at), reason, request_id)
        )
        return changed == 1

    async def lock(self, request_id: str, *, exclusive: bool = False) -> None:
        """Hold the request's row until the transaction ends (``exclusive``: for a vote)."""
        query = self.sql.lock_request_exclusive if exclusive else self.sql.lock_request
        await self._tx.fetch_all(query, (request_id,))

    async def due_for_expiry(self, now: datetime, limit: int) -> Sequence[str]:
        """Ids of pending requests past their deadline."""
        rows = await self._tx.fetch_all(self.sql.due_for_expiry, (ts(now), limit))
        return [row["id"] for row in rows]

    async def insert_decision(self, decision: Decision) -> None:
        """Record the decision that closed a request."""
        await self._tx.execute(
            self.sql.insert_decision,
            (
                decision.id,
                decision.request_id,
                decision.outcome.value,
                decision.account_id,
                decision.display_name,
                decision.channel,
                decision.comment,
                ts(decision.decided_at),
                decision.source,
                decision.forward_state.value,
            ),
        )

    async def set_forward_state(
        self, decision_id: str, state: ForwardState, at: datetime, detail: str | None
    ) -> None:
        """Record how the decision's way to the backend stands."""
        await self._tx.execute(
            self.sql.set_forward_state, (state.value, detail, ts(at), decision_id)
        )
