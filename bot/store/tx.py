"""The queries behind one SQLite transaction (implements ``bot.core.ports.Tx``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

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
from bot.core.ports import SignedAnswer
from bot.core.routing import RoutePreference
from bot.errors import StoreError
from bot.store.codec import opt_ts, parse_ts, ts

Row = aiosqlite.Row


class SqliteTx:
    """Typed queries on a connection that is inside a transaction."""

    def __init__(self, conn: aiosqlite.Connection, *, writable: bool) -> None:
        self.conn = conn
        self._writable = writable

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        cursor = await self.conn.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # ------------------------------------------------------------------ signed answers

    async def recall_answer(self, request_id: str) -> SignedAnswer | None:
        row = await self.fetch_one(
            "SELECT request_hash, status, content_type, key_id, body FROM signed_answers"
            " WHERE request_id = ?",
            (request_id,),
        )
        return SignedAnswer(**dict(row)) if row else None

    async def keep_answer(
        self, request_id: str, answer: SignedAnswer, at: datetime, expires_at: datetime
    ) -> None:
        await self.execute(
            "INSERT INTO signed_answers (request_id, request_hash, status, content_type, key_id,"
            " body, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
            "DELETE FROM signed_answers WHERE request_id IN (SELECT request_id FROM"
            " signed_answers WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
            (ts(now), limit),
        )

    async def insert_request(self, request: StoredRequest) -> None:
        await self.execute(
            "INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
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
        row = await self.fetch_one("SELECT * FROM requests WHERE id = ?", (request_id,))
        return await self._hydrate(row) if row else None

    async def find_request(self, ticket_id: str) -> StoredRequest | None:
        row = await self.fetch_one("SELECT * FROM requests WHERE ticket_id = ?", (ticket_id,))
        return await self._hydrate(row) if row else None

    async def get_request_by_decision(self, decision_id: str) -> StoredRequest | None:
        row = await self.fetch_one(
            "SELECT r.* FROM requests r JOIN decisions d ON d.request_id = r.id WHERE d.id = ?",
            (decision_id,),
        )
        return await self._hydrate(row) if row else None

    async def _hydrate(self, row: Row) -> StoredRequest:
        deliveries = await self._deliveries(row["id"])
        decision = await self.fetch_one(
            "SELECT * FROM decisions WHERE request_id = ?", (row["id"],)
        )
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
            "UPDATE requests SET status = ?, closed_at = ?, close_reason = ? "
            "WHERE id = ? AND status = 'pending'",
            (status.value, ts(at), reason, request_id),
        )
        return changed == 1

    async def due_for_expiry(self, now: datetime, limit: int) -> Sequence[str]:
        rows = await self.fetch_all(
            "SELECT id FROM requests WHERE status = 'pending' AND expires_at <= ? "
            "ORDER BY expires_at LIMIT ?",
            (ts(now), limit),
        )
        return [row["id"] for row in rows]

    # ------------------------------------------------------------------ deliveries

    async def insert_delivery(self, delivery: Delivery) -> None:
        await self.execute(
            "INSERT INTO deliveries (id, request_id, account_id, channel, address, state, reason, "
            "external_ref, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery.id,
                delivery.request_id,
                delivery.account_id,
                delivery.channel,
                delivery.address,
                delivery.state.value,
                delivery.reason,
                delivery.external_ref,
                ts(delivery.created_at),
                ts(delivery.updated_at),
            ),
        )
        await self._add_events(delivery.id, delivery.history)

    async def _add_events(self, delivery_id: str, events: Iterable[DeliveryEvent]) -> None:
        for event in events:
            await self.execute(
                "INSERT INTO delivery_events (delivery_id, at, state, detail) VALUES (?, ?, ?, ?)",
                (delivery_id, ts(event.at), event.state.value, event.detail),
            )

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self.fetch_one("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        if row is None:
            return None
        events = await self._events([delivery_id])
        return _delivery(row, events.get(delivery_id, []))

    async def _deliveries(self, request_id: str) -> list[Delivery]:
        rows = await self.fetch_all(
            "SELECT * FROM deliveries WHERE request_id = ? ORDER BY created_at, id", (request_id,)
        )
        events = await self._events([row["id"] for row in rows])
        return [_delivery(row, events.get(row["id"], [])) for row in rows]

    async def _events(self, delivery_ids: list[str]) -> dict[str, list[DeliveryEvent]]:
        if not delivery_ids:
            return {}
        marks = ",".join("?" * len(delivery_ids))
        rows = await self.fetch_all(
            f"SELECT * FROM delivery_events WHERE delivery_id IN ({marks}) ORDER BY id",
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
            "UPDATE deliveries SET state = ?, updated_at = ?, reason = COALESCE(?, reason), "
            "external_ref = COALESCE(?, external_ref) WHERE id = ?",
            (state.value, ts(at), reason, external_ref, delivery_id),
        )
        if changed != 1:
            raise StoreError(f"delivery {delivery_id} not found")
        await self._add_events(delivery_id, [DeliveryEvent(at=at, state=state, detail=detail)])

    # ------------------------------------------------------------------ decisions

    async def insert_decision(self, decision: Decision) -> None:
        await self.execute(
            "INSERT INTO decisions (id, request_id, outcome, account_id, display_name, channel, "
            "comment, decided_at, source, forward_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "UPDATE decisions SET forward_state = ?, forward_detail = ?, forwarded_at = ? "
            "WHERE id = ?",
            (state.value, detail, ts(at), decision_id),
        )

    # ------------------------------------------------------------------ bindings

    async def binding_address(self, account_id: str, channel: ChannelName) -> str | None:
        row = await self.fetch_one(
            "SELECT address FROM bindings WHERE account_id = ? AND channel = ?",
            (account_id, channel),
        )
        return str(row["address"]) if row else None

    async def route_preference(self, account_id: str) -> RoutePreference:
        row = await self.fetch_one(
            "SELECT channel_order, email_enabled FROM account_preferences WHERE account_id = ?",
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
            "INSERT INTO bindings (account_id, channel, address, bound_by, method, bound_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, channel) DO UPDATE SET "
            "address = excluded.address, bound_by = excluded.bound_by, "
            "method = excluded.method, bound_at = excluded.bound_at",
            (account_id, channel, address, by, method, ts(at)),
        )
        # The address is personal data: the audit names the account and channel, not the address.
        await self.audit(at, by, "binding.set", f"{account_id}/{channel}", method, "")

    async def binding_owner(self, channel: ChannelName, address: str) -> str | None:
        row = await self.fetch_one(
            "SELECT account_id FROM bindings WHERE channel = ? AND address = ?", (channel, address)
        )
        return str(row["account_id"]) if row else None

    async def put_binding_code(
        self, code_hash: str, account_id: str, at: datetime, expires_at: datetime
    ) -> None:
        await self.execute("DELETE FROM binding_codes WHERE expires_at < ?", (ts(at),))
        await self.execute(
            "INSERT INTO binding_codes (code_hash, account_id, created_at, expires_at) "
            "VALUES (?, ?, ?, ?)",
            (code_hash, account_id, ts(at), ts(expires_at)),
        )

    async def take_binding_code(self, code_hash: str, now: datetime) -> str | None:
        row = await self.fetch_one(
            "UPDATE binding_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL "
            "AND expires_at > ? RETURNING account_id",
            (ts(now), code_hash, ts(now)),
        )
        return str(row["account_id"]) if row else None

    # ------------------------------------------------------------------ usage and audit

    async def meter(self, channel: str, account_id: str, kind: str, at: datetime) -> None:
        await self.execute(
            "INSERT INTO usage (day, channel, account_id, kind, count) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (day, channel, account_id, kind) DO UPDATE SET count = count + 1",
            (ts(at)[:10], channel, account_id, kind),
        )

    async def audit(
        self, at: datetime, who: str, action: str, target: str, detail: str, source: str
    ) -> None:
        await self.execute(
            "INSERT INTO audit (at, who, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
            (ts(at), who, action, target, detail, source),
        )

    # ------------------------------------------------------------------ outbox

    async def enqueue(self, kind: str, ref: str, run_at: datetime, payload: str = "{}") -> None:
        await self.execute(
            "INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
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
        exclude: Collection[str] = (),
    ) -> list[Job]:
        params: dict[str, Any] = {
            "owner": owner,
            "until": ts(lease_until),
            "now": ts(now),
            "limit": limit,
        }
        rows = await self.fetch_all(
            "UPDATE outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now "
            f"AND (lease_until IS NULL OR lease_until <= :now){_kind_filter(kinds, exclude, params)} "
            "ORDER BY next_attempt_at, id "
            "LIMIT :limit) RETURNING id, kind, ref, payload, attempts, created_at, last_error",
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
            "UPDATE outbox SET state = 'done', done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), lease_owner = NULL, "
            "lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (job_id, owner),
        )

    async def reschedule(self, job_id: int, owner: str, run_at: datetime, error: str) -> None:
        await self.execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (ts(run_at), error, job_id, owner),
        )

    async def release(self, owner: str) -> int:
        return await self.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner = ? AND state = 'pending'",
            (owner,),
        )

    async def bury(self, job_id: int, owner: str, error: str) -> None:
        await self.execute(
            "UPDATE outbox SET state = 'dead', last_error = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (error, job_id, owner),
        )

    async def outbox_depth(self) -> dict[str, int]:
        """Pending jobs per kind (for /metrics)."""
        rows = await self.fetch_all(
            "SELECT kind, COUNT(*) AS n FROM outbox WHERE state = 'pending' GROUP BY kind"
        )
        return {row["kind"]: row["n"] for row in rows}

    async def delivery_counts(self) -> dict[tuple[str, str], int]:
        """Deliveries per (channel, state) (for /metrics)."""
        rows = await self.fetch_all(
            "SELECT channel, state, COUNT(*) AS n FROM deliveries GROUP BY channel, state"
        )
        return {(row["channel"], row["state"]): row["n"] for row in rows}

    async def request_counts(self) -> dict[str, int]:
        """Requests per status (for /metrics)."""
        rows = await self.fetch_all("SELECT status, COUNT(*) AS n FROM requests GROUP BY status")
        return {row["status"]: row["n"] for row in rows}


def _kind_filter(kinds: Collection[str], exclude: Collection[str], params: dict[str, Any]) -> str:
    # Named placeholders only (the values never reach the SQL text): one lane's share of the
    # outbox, served by the (kind, next_attempt_at) index of pending jobs.
    sql = ""
    for clause, names in ((" AND kind IN", kinds), (" AND kind NOT IN", exclude)):
        if names:
            marks = []
            for name in sorted(names):
                key = f"k{len(params)}"
                params[key] = name
                marks.append(f":{key}")
            sql += f"{clause} ({', '.join(marks)})"
    return sql


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
