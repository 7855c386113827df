"""Approval requests and their decisions (implements ``bot.core.ports.RequestRepo``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core import roster
from bot.core.intake import ApprovalRequest, ChannelName
from bot.core.models import Decision, ForwardState, RequestStatus, RosterChange, StoredRequest
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.repos.bound import Rows
from bot.store.repos.outbox import OutboxRows, step_refs
from bot.store.repos.rows import carried_events, decision, deliveries_of, delivery, from_json
from bot.store.repos.votes import VoteRows, vote
from bot.store.tx import Row

# The tickets parsed (or written) lately, by their stored text. A ticket is immutable once
# stored (roster changes are kept apart), and its outbox job loads it back a moment after the
# submission wrote it: parsing the same text again rebuilt the same frozen, validated value,
# which cost more than the rest of the card's read. Bounded by the texts' total length, not
# their count: under a burst the cards' jobs run thousands of submissions behind, and a count
# small enough for the largest tickets would forget every ticket before its card is sent.
_TICKET_CHARS_KEPT = 4_000_000


class _Tickets:
    """The parsed tickets by their text, the oldest forgotten first past ``chars`` in all."""

    def __init__(self, chars: int) -> None:
        self._chars = chars
        self._kept: dict[str, ApprovalRequest] = {}
        self._size = 0

    def remember(self, text: str, ticket: ApprovalRequest) -> None:
        """Keep ``ticket`` as the value of ``text`` (already validated by the caller)."""
        if text in self._kept:
            return
        while self._kept and self._size + len(text) > self._chars:
            oldest = next(iter(self._kept))
            del self._kept[oldest]
            self._size -= len(oldest)
        self._kept[text] = ticket
        self._size += len(text)

    def parsed(self, text: str) -> ApprovalRequest:
        """The ticket stored as ``text``, validated once for as long as it is remembered."""
        ticket = self._kept.get(text)
        if ticket is None:
            ticket = ApprovalRequest.model_validate_json(text)
            self.remember(text, ticket)
        return ticket


_tickets = _Tickets(_TICKET_CHARS_KEPT)


class RequestRows(Rows):
    """The ``requests`` and ``decisions`` tables; a request is loaded with its deliveries and
    decision (carried by the one statement where the engine can, else read after it)."""

    async def insert(self, request: StoredRequest) -> bool:
        """Store a new request; False (nothing stored) if its ticket is already stored."""
        text = request.ticket.model_dump_json()
        inserted = await self._tx.execute(
            self.sql.insert_request,
            (
                request.id,
                request.ticket.ticket_id,
                request.status.value,
                text,
                ts(request.created_at),
                ts(request.ticket.expires_at),
            ),
        )
        if inserted == 1:  # read back by its card's job in a moment
            _tickets.remember(text, request.ticket)
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
        changes = [RosterChange.model_validate(c) for c in from_json(row["roster_changes"])]
        ticket = _tickets.parsed(row["ticket"])
        return StoredRequest(
            id=row["id"],
            ticket=roster.applied(ticket, changes),
            changes=tuple(changes),
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
        """Move a pending request to a final status, its steps cancelled with it; False if it
        was no longer pending (nothing changed)."""
        params = {"status": status.value, "at": ts(at), "reason": reason, "id": request_id}
        tx = self._tx
        if tx.rows_carry_children:
            low, high = step_refs(request_id)
            return (
                await tx.execute(self.sql.close_request, {**params, "low": low, "high": high}) == 1
            )
        if await tx.execute(self.sql.close_request, params) != 1:
            return False
        await OutboxRows(tx).cancel_steps(request_id, at)
        return True

    async def close_held(
        self, request_id: str, status: RequestStatus, at: datetime, reason: str | None
    ) -> None:
        """:meth:`close` a request read pending under this unit's exclusive lock: a deferred
        write that must close it (``EngineTx.defer``)."""
        params = {"status": status.value, "at": ts(at), "reason": reason, "id": request_id}
        tx = self._tx
        if tx.rows_carry_children:
            low, high = step_refs(request_id)
            await tx.defer(self.sql.close_request, {**params, "low": low, "high": high}, changes=1)
            return
        await tx.defer(self.sql.close_request, params, changes=1)
        await OutboxRows(tx).cancel_steps(request_id, at)

    async def set_changes(self, request_id: str, changes: Sequence[RosterChange]) -> bool:
        """Store who joined the pending request since it started; False once it closed."""
        text = json.dumps([c.model_dump(mode="json") for c in changes])
        return await self._tx.execute(self.sql.set_roster_changes, (text, request_id)) == 1

    async def lock(self, request_id: str, *, exclusive: bool = False) -> None:
        """Hold the request's row until the transaction ends (``exclusive``: for a vote)."""
        query = self.sql.lock_request_exclusive if exclusive else self.sql.lock_request
        await self._tx.fetch_all(query, (request_id,))

    async def for_vote(
        self, delivery_id: str, channel: ChannelName | None = None
    ) -> StoredRequest | None:
        """The request of the card ``delivery_id``, held as :meth:`lock` ``exclusive`` holds
        it and read after the lock was granted, with its votes; None for an unknown card.
        On PostgreSQL the call reads the approvers' bindings on ``channel`` too (read ahead)."""
        tx = self._tx
        if not tx.rows_carry_children:
            # SQLite: one writer at a time holds every row already; the rest runs inline.
            row = await tx.fetch_one(self.sql.request_for_vote, (delivery_id,))
            request = await self.get(row["request_id"]) if row else None
            if request is None:
                return None
            return request.with_votes(await VoteRows(tx).of_request(request.id))
        row = await tx.fetch_one(self.sql.request_for_vote, (delivery_id, channel))
        read = from_json(row["found"]) if row else None
        if read is None:
            return None
        found = read["found"]
        carried = {**found["request"], "decision": found["decision"]}
        request = await self._hydrate({**carried, "deliveries": found["deliveries"]})
        if channel is not None:
            bound = read["bound"]
            tx.read_ahead = {
                (d.account_id, channel): bound.get(d.account_id) for d in request.deliveries
            }
        return request.with_votes([vote(v) for v in found["votes"]])

    async def due_for_expiry(self, now: datetime, limit: int) -> Sequence[str]:
        """Ids of pending requests past their deadline."""
        rows = await self._tx.fetch_all(self.sql.due_for_expiry, (ts(now), limit))
        return [row["id"] for row in rows]

    async def insert_decision(
        self, decision: Decision, forward: str | None = None, *, payload: str = "{}"
    ) -> None:
        """Record the decision that closed a request; ``forward``: with the outbox job of that
        kind that carries it to the backend, due at once (one statement where the engine can);
        deferred writes (``EngineTx.defer``)."""
        row = _decision_row(decision)
        tx = self._tx
        if forward is None or not tx.rows_carry_children:
            await tx.defer(self.sql.insert_decision, tuple(row.values()))
        if forward is not None:
            forwarded = {**row, "forward": forward, "payload": payload}
            await tx.defer(self.sql.insert_forwarded_decision, forwarded)

    async def set_forward_state(
        self, decision_id: str, state: ForwardState, at: datetime, detail: str | None
    ) -> None:
        """Record how the decision's way to the backend stands (deferred, as nobody reads it
        back in the unit that records it)."""
        await self._tx.defer(self.sql.set_forward_state, (state.value, detail, ts(at), decision_id))


def _decision_row(decision: Decision) -> dict[str, str | None]:
    # In insert_decision's column order.
    return {
        "id": decision.id,
        "request_id": decision.request_id,
        "outcome": decision.outcome.value,
        "account_id": decision.account_id,
        "display_name": decision.display_name,
        "channel": decision.channel,
        "comment": decision.comment,
        "decided_at": ts(decision.decided_at),
        "source": decision.source,
        "forward_state": decision.forward_state.value,
    }
