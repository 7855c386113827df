"""The queries behind one transaction (implements ``bot.core.ports.Tx``), written once for every
engine: :class:`EngineTx` runs the engine's named queries (``self.sql``) through three
primitives each engine implements; :class:`SqliteTx` is SQLite's.

SQLite's primitives are coroutines (the port is the same for every engine) but run inline: the
transaction's connection is already ours, so a statement costs microseconds and no thread round
trip (see ``bot.store.group_commit``).

Over 400 lines on purpose: it is the whole ``Tx`` port, one short method per query, kept in one
place so that an engine adds only its three driver calls (``bot.store.postgres.tx``) and says
whether its statements carry a row's children (``rows_carry_children``: fewer round trips where
each statement is one)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.core.models import (
    ApprovalRequest,
    ChannelName,
    Decision,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    ForwardState,
    Job,
    RequestStatus,
    StoredRequest,
)
from bot.core.ports import SignedAnswer, Tx
from bot.core.routing import RoutePreference
from bot.errors import Conflict, StoreError
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.queries import Queries

Row = Any  # a result row: by column name (and position), whatever the engine's driver returns
Params = Sequence[Any] | dict[str, Any]


class EngineTx:
    """Typed queries on a connection that is inside a transaction, on any engine."""

    sql: Queries  # the engine's named queries
    open: bool  # False once its transaction has committed or rolled back
    # True where a statement carries the rows that hang off the one it writes or reads, as JSON
    # columns: insert_delivery and set_delivery_state write the events, get_delivery and
    # deliveries_of_request return ``events``, the request queries return ``decision`` and
    # ``deliveries`` (PostgreSQL: each statement is a round trip). Else those rows have
    # statements of their own (SQLite: statements run inline, and it has no writing CTEs).
    rows_carry_children = False

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; how many rows it changed (StoreError in a read-only transaction)."""
        raise NotImplementedError

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        raise NotImplementedError

    # ------------------------------------------------------------------ signed answers

    async def recall_answer(self, request_id: str) -> SignedAnswer | None:
        row = await self.fetch_one(
            self.sql.recall_answer,
            (request_id,),
        )
        return SignedAnswer(**dict(row)) if row else None

    async def claim_answer(
        self, request_id: str, request_hash: str, at: datetime, expires_at: datetime
    ) -> bool:
        claimed = await self.execute(
            self.sql.claim_answer,
            (request_id, request_hash, ts(at), ts(expires_at)),
        )
        return claimed == 1

    async def keep_answer(
        self, request_id: str, answer: SignedAnswer, at: datetime, expires_at: datetime
    ) -> None:
        await self.execute(
            self.sql.keep_answer,
            (
                request_id,
                answer.request_hash,
                answer.status,
                answer.content_type,
                answer.key_id,
                answer.body,
                ts(at),
                ts(expires_at),
            ),
        )

    async def forget_answers(self, now: datetime, limit: int) -> int:
        return await self.execute(
            self.sql.forget_answers,
            (ts(now), limit),
        )

    async def insert_request(self, request: StoredRequest) -> None:
        await self.execute(
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

    async def get_request(self, request_id: str) -> StoredRequest | None:
        row = await self.fetch_one(self.sql.get_request, (request_id,))
        return await self._hydrate(row) if row else None

    async def request_status(self, request_id: str) -> RequestStatus | None:
        row = await self.fetch_one(self.sql.request_status, (request_id,))
        return RequestStatus(row["status"]) if row else None

    async def find_request(self, ticket_id: str) -> StoredRequest | None:
        row = await self.fetch_one(self.sql.find_request, (ticket_id,))
        return await self._hydrate(row) if row else None

    async def get_request_by_decision(self, decision_id: str) -> StoredRequest | None:
        row = await self.fetch_one(
            self.sql.get_request_by_decision,
            (decision_id,),
        )
        return await self._hydrate(row) if row else None

    async def _hydrate(self, row: Row) -> StoredRequest:
        if self.rows_carry_children:
            carried = _json(row["deliveries"])
            deliveries = [_delivery(d, _carried_events(d["events"])) for d in carried]
            decision = _json(row["decision"])
        else:
            deliveries = await self._deliveries(row["id"])
            decision = await self.fetch_one(self.sql.decision_of_request, (row["id"],))
        return StoredRequest(
            id=row["id"],
            ticket=ApprovalRequest.model_validate_json(row["ticket"]),
            status=RequestStatus(row["status"]),
            created_at=parse_ts(row["created_at"]),
            closed_at=opt_ts(row["closed_at"]),
            close_reason=row["close_reason"],
            deliveries=tuple(deliveries),
            decision=_decision(decision) if decision else None,
        )

    async def close_request(
        self, request_id: str, status: RequestStatus, at: datetime, reason: str | None
    ) -> bool:
        changed = await self.execute(
            self.sql.close_request,
            (status.value, ts(at), reason, request_id),
        )
        return changed == 1

    async def lock_request(self, request_id: str) -> None:
        await self.fetch_all(self.sql.lock_request, (request_id,))

    async def due_for_expiry(self, now: datetime, limit: int) -> Sequence[str]:
        rows = await self.fetch_all(
            self.sql.due_for_expiry,
            (ts(now), limit),
        )
        return [row["id"] for row in rows]

    # ------------------------------------------------------------------ deliveries

    async def insert_delivery(self, delivery: Delivery) -> None:
        await self.execute(
            self.sql.insert_delivery,
            {
                "id": delivery.id,
                "request_id": delivery.request_id,
                "account_id": delivery.account_id,
                "channel": delivery.channel,
                "address": delivery.address,
                "state": delivery.state.value,
                "reason": delivery.reason,
                "external_ref": delivery.external_ref,
                "created_at": ts(delivery.created_at),
                "updated_at": ts(delivery.updated_at),
                "events": _events_json(delivery.history) if self.rows_carry_children else None,
            },
        )
        if not self.rows_carry_children:
            await self._add_events(delivery.id, delivery.history)

    async def _add_events(self, delivery_id: str, events: Iterable[DeliveryEvent]) -> None:
        for event in events:
            await self.execute(
                self.sql.insert_delivery_event,
                (delivery_id, ts(event.at), event.state.value, event.detail),
            )

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self.fetch_one(self.sql.get_delivery, (delivery_id,))
        if row is None:
            return None
        events = await self._events([row])
        return _delivery(row, events.get(delivery_id, []))

    async def _deliveries(self, request_id: str) -> list[Delivery]:
        rows = await self.fetch_all(self.sql.deliveries_of_request, (request_id,))
        events = await self._events(rows)
        return [_delivery(row, events.get(row["id"], [])) for row in rows]

    async def _events(self, rows: list[Row]) -> dict[str, list[DeliveryEvent]]:
        if self.rows_carry_children:
            return {row["id"]: _carried_events(row["events"]) for row in rows}
        delivery_ids = [row["id"] for row in rows]
        if not delivery_ids:
            return {}
        marks = ",".join("?" * len(delivery_ids))
        rows = await self.fetch_all(
            self.sql.events_of_deliveries.format(marks=marks),
            delivery_ids,
        )
        out: dict[str, list[DeliveryEvent]] = {}
        for row in rows:
            out.setdefault(row["delivery_id"], []).append(
                DeliveryEvent(
                    at=parse_ts(row["at"]), state=DeliveryState(row["state"]), detail=row["detail"]
                )
            )
        return out

    async def set_delivery_state(
        self,
        delivery_id: str,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
        *,
        reason: str | None = None,
        external_ref: str | None = None,
    ) -> None:
        changed = await self.execute(
            self.sql.set_delivery_state,
            {
                "state": state.value,
                "at": ts(at),
                "reason": reason,
                "external_ref": external_ref,
                "id": delivery_id,
                "detail": detail,
            },
        )
        if changed != 1:
            raise StoreError(f"delivery {delivery_id} not found")
        if not self.rows_carry_children:
            await self._add_events(delivery_id, [DeliveryEvent(at=at, state=state, detail=detail)])

    # ------------------------------------------------------------------ decisions

    async def insert_decision(self, decision: Decision) -> None:
        await self.execute(
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
        await self.execute(
            self.sql.set_forward_state,
            (state.value, detail, ts(at), decision_id),
        )

    # ------------------------------------------------------------------ bindings

    async def binding_address(self, account_id: str, channel: ChannelName) -> str | None:
        row = await self.fetch_one(
            self.sql.binding_address,
            (account_id, channel),
        )
        return str(row["address"]) if row else None

    async def route_preference(self, account_id: str) -> RoutePreference:
        row = await self.fetch_one(
            self.sql.route_preference,
            (account_id,),
        )
        if row is None:
            return RoutePreference()
        order = row["channel_order"]
        return RoutePreference(
            channel_order=tuple(order.split(",")) if order else None,
            email_enabled=bool(row["email_enabled"]),
        )

    async def set_binding(
        self,
        account_id: str,
        channel: ChannelName,
        address: str,
        by: str,
        method: str,
        at: datetime,
    ) -> None:
        await self.execute(
            self.sql.upsert_binding,
            (account_id, channel, address, by, method, ts(at)),
        )
        # The address is personal data: the audit names the account and channel, not the address.
        await self.audit(at, by, "binding.set", f"{account_id}/{channel}", method, "")

    async def binding_owner(self, channel: ChannelName, address: str) -> str | None:
        row = await self.fetch_one(self.sql.binding_owner, (channel, address))
        return str(row["account_id"]) if row else None

    async def put_binding_code(
        self, code_hash: str, account_id: str, at: datetime, expires_at: datetime
    ) -> None:
        await self.execute(self.sql.sweep_binding_codes, (ts(at),))
        await self.execute(
            self.sql.insert_binding_code,
            (code_hash, account_id, ts(at), ts(expires_at)),
        )

    async def take_binding_code(self, code_hash: str, now: datetime) -> str | None:
        row = await self.fetch_one(
            self.sql.take_binding_code,
            (ts(now), code_hash, ts(now)),
        )
        return str(row["account_id"]) if row else None

    # ------------------------------------------------------------------ usage and audit

    async def meter(self, channel: str, account_id: str, kind: str, at: datetime) -> None:
        await self.execute(
            self.sql.meter,
            (ts(at)[:10], channel, account_id, kind),
        )

    async def audit(
        self, at: datetime, who: str, action: str, target: str, detail: str, source: str
    ) -> None:
        await self.execute(
            self.sql.insert_audit,
            (ts(at), who, action, target, detail, source),
        )

    # ------------------------------------------------------------------ outbox

    async def enqueue(self, kind: str, ref: str, run_at: datetime, payload: str = "{}") -> None:
        await self.execute(
            self.sql.enqueue,
            (kind, ref, payload, ts(run_at), ts(run_at)),
        )

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        kinds: Collection[str] = (),
    ) -> list[Job]:
        params: dict[str, Any] = {
            "owner": owner,
            "until": ts(lease_until),
            "now": ts(now),
            "limit": limit,
        }
        rows = await self.fetch_all(
            self.sql.claim.format(kinds=_kind_filter(self.sql, kinds, params)),
            params,
        )
        return [
            Job(
                id=row["id"],
                kind=row["kind"],
                ref=row["ref"],
                payload=json.loads(row["payload"]),
                attempts=row["attempts"],
                created_at=parse_ts(row["created_at"]),
                last_error=row["last_error"],
            )
            for row in rows
        ]

    async def complete(self, job_id: int, owner: str) -> None:
        await self.execute(
            self.sql.complete,
            (job_id, owner),
        )

    async def reschedule(self, job_id: int, owner: str, run_at: datetime, error: str) -> None:
        await self.execute(
            self.sql.reschedule,
            (ts(run_at), error, job_id, owner),
        )

    async def defer(self, job_id: int, owner: str, run_at: datetime) -> None:
        await self.execute(self.sql.defer, (ts(run_at), job_id, owner))

    async def release(self, owner: str) -> int:
        return await self.execute(
            self.sql.release,
            (owner,),
        )

    async def bury(self, job_id: int, owner: str, error: str) -> None:
        await self.execute(
            self.sql.bury,
            (error, job_id, owner),
        )

    async def outbox_depth(self) -> dict[str, int]:
        """Pending jobs per kind (for /metrics)."""
        rows = await self.fetch_all(self.sql.outbox_depth)
        return {row["kind"]: row["n"] for row in rows}

    async def delivery_counts(self) -> dict[tuple[str, str], int]:
        """Deliveries per (channel, state) (for /metrics)."""
        rows = await self.fetch_all(self.sql.delivery_counts)
        return {(row["channel"], row["state"]): row["n"] for row in rows}

    async def request_counts(self) -> dict[str, int]:
        """Requests per status (for /metrics)."""
        rows = await self.fetch_all(self.sql.request_counts)
        return {row["status"]: row["n"] for row in rows}


class SqliteTx(EngineTx):
    """A transaction on the SQLite connection this task holds (statements run inline)."""

    def __init__(self, raw: sqlite3.Connection, sql: Queries, *, writable: bool) -> None:
        self._raw = raw
        self.sql = sql
        self._writable = writable
        self.open = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self.run(sql, params).rowcount

    def run(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """Execute one changing statement now, on this loop (see the module docstring)."""
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        if not self.open:
            raise StoreError("the transaction has ended")
        try:
            return self._raw.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            # As on every engine: a unique constraint refusing a second row is a Conflict.
            if "UNIQUE" in str(exc):
                raise Conflict(f"already stored: {exc}") from exc
            raise

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._raw.execute(sql, params).fetchall()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._raw.execute(sql, params).fetchone()
        return row


def raw(tx: Tx) -> EngineTx:
    """The engine's transaction behind a core ``Tx`` (what the store's adapters query on)."""
    if not isinstance(tx, EngineTx):
        raise StoreError(f"not a transaction of this engine: {type(tx).__name__}")
    return tx


def _kind_filter(queries: Queries, kinds: Collection[str], params: dict[str, Any]) -> str:
    # Named placeholders only (the values never reach the SQL text): one lane's share of the
    # outbox, served by the (kind, next_attempt_at) index of pending jobs.
    if not kinds:
        return ""
    marks = []
    for name in sorted(kinds):
        key = f"k{len(params)}"
        params[key] = name
        marks.append(f":{key}")
    return " " + queries.claim_kind_in.format(marks=", ".join(marks))


def _events_json(events: Iterable[DeliveryEvent]) -> str:
    return json.dumps(
        [{"at": ts(e.at), "state": e.state.value, "detail": e.detail} for e in events]
    )


def _json(value: Any) -> Any:
    # A JSON column comes as text; nested in another one it is already decoded.
    return json.loads(value) if isinstance(value, str) else value


def _carried_events(value: Any) -> list[DeliveryEvent]:
    return [
        DeliveryEvent(at=parse_ts(e["at"]), state=DeliveryState(e["state"]), detail=e["detail"])
        for e in _json(value)
    ]


def _delivery(row: Row, events: list[DeliveryEvent]) -> Delivery:
    return Delivery(
        id=row["id"],
        request_id=row["request_id"],
        account_id=row["account_id"],
        channel=row["channel"],
        address=row["address"],
        state=DeliveryState(row["state"]),
        reason=row["reason"],
        external_ref=row["external_ref"],
        created_at=parse_ts(row["created_at"]),
        updated_at=parse_ts(row["updated_at"]),
        history=tuple(events),
    )


def _decision(row: Row) -> Decision:
    return Decision(
        id=row["id"],
        request_id=row["request_id"],
        outcome=row["outcome"],
        account_id=row["account_id"],
        display_name=row["display_name"],
        channel=row["channel"],
        comment=row["comment"],
        decided_at=parse_ts(row["decided_at"]),
        source=row["source"],
        forward_state=ForwardState(row["forward_state"]),
        forward_detail=row["forward_detail"],
        forwarded_at=opt_ts(row["forwarded_at"]),
    )
