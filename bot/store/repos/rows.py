"""The decoding of request, delivery and decision rows (a request is loaded with its deliveries
and decision), shared by the repositories of requests and deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.core.models import Decision, Delivery, DeliveryEvent, DeliveryState, ForwardState
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.tx import EngineTx, Row


async def deliveries_of(tx: EngineTx, request_id: str) -> list[Delivery]:
    """The request's deliveries, each with its history."""
    rows = await tx.fetch_all(tx.sql.deliveries_of_request, (request_id,))
    events = await events_of(tx, rows)
    return [delivery(row, events.get(row["id"], [])) for row in rows]


async def events_of(tx: EngineTx, rows: list[Row]) -> dict[str, list[DeliveryEvent]]:
    """The history of each delivery row, by delivery id."""
    if tx.rows_carry_children:
        return {row["id"]: carried_events(row["events"]) for row in rows}
    delivery_ids = [row["id"] for row in rows]
    if not delivery_ids:
        return {}
    marks = ",".join("?" * len(delivery_ids))
    found = await tx.fetch_all(tx.sql.events_of_deliveries.format(marks=marks), delivery_ids)
    out: dict[str, list[DeliveryEvent]] = {}
    for row in found:
        out.setdefault(row["delivery_id"], []).append(
            DeliveryEvent(
                at=parse_ts(row["at"]), state=DeliveryState(row["state"]), detail=row["detail"]
            )
        )
    return out


async def add_events(tx: EngineTx, delivery_id: str, events: Iterable[DeliveryEvent]) -> None:
    """Append history rows (an engine whose statements do not carry them)."""
    for event in events:
        await tx.execute(
            tx.sql.insert_delivery_event,
            (delivery_id, ts(event.at), event.state.value, event.detail),
        )


def events_json(events: Iterable[DeliveryEvent]) -> str:
    """A delivery's history as the JSON column a statement carries."""
    return json.dumps(
        [{"at": ts(e.at), "state": e.state.value, "detail": e.detail} for e in events]
    )


def from_json(value: Any) -> Any:
    """A JSON column: it comes as text; nested in another one it is already decoded."""
    return json.loads(value) if isinstance(value, str) else value


def carried_events(value: Any) -> list[DeliveryEvent]:
    """The history carried in a delivery row's ``events`` column."""
    return [
        DeliveryEvent(at=parse_ts(e["at"]), state=DeliveryState(e["state"]), detail=e["detail"])
        for e in from_json(value)
    ]


def delivery(row: Row, events: list[DeliveryEvent]) -> Delivery:
    """A delivery row with its history."""
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
        time_zone=row["time_zone"],
    )


def decision(row: Row) -> Decision:
    """A decision row."""
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
