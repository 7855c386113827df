"""Deliveries (cards) and their history (implements ``bot.core.ports.DeliveryRepo``)."""

from __future__ import annotations

from datetime import datetime

from bot.core.models import Delivery, DeliveryEvent, DeliveryState
from bot.errors import StoreError
from bot.store.codec import ts
from bot.store.repos.bound import Rows
from bot.store.repos.rows import add_events, delivery, events_json, events_of


class DeliveryRows(Rows):
    """The ``deliveries`` table and its events."""

    async def insert(self, delivery: Delivery, job: str | None = None) -> None:
        """Store a delivery with its history so far; with ``job``, queue that job on it (due at
        its creation) too, in the same statement where the engine can; a deferred write
        (``EngineTx.defer``)."""
        carry = self._tx.rows_carry_children
        await self._tx.defer(
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
                "events": events_json(delivery.history) if carry else None,
                "job": job,
            },
        )
        if not carry:
            await add_events(self._tx, delivery.id, delivery.history)
            if job is not None:
                at = ts(delivery.created_at)
                params = (job, delivery.id, "{}", at, at, delivery.channel)
                await self._tx.execute(self.sql.enqueue, params)

    async def get(self, delivery_id: str) -> Delivery | None:
        """The delivery with its history."""
        row = await self._tx.fetch_one(self.sql.get_delivery, (delivery_id,))
        if row is None:
            return None
        events = await events_of(self._tx, [row])
        return delivery(row, events.get(delivery_id, []))

    async def state(self, delivery_id: str) -> DeliveryState | None:
        """The delivery's state alone."""
        row = await self._tx.fetch_one(self.sql.delivery_head, (delivery_id,))
        return DeliveryState(row["state"]) if row else None

    async def request_of(self, delivery_id: str) -> str | None:
        """The id of the delivery's request alone."""
        row = await self._tx.fetch_one(self.sql.delivery_head, (delivery_id,))
        return str(row["request_id"]) if row else None

    async def set_state(
        self,
        delivery_id: str,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
        *,
        reason: str | None = None,
        external_ref: str | None = None,
    ) -> None:
        """Move the delivery to ``state``, with a history event (StoreError: no such one)."""
        changed = await self._tx.execute(
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
        if not self._tx.rows_carry_children:
            event = DeliveryEvent(at=at, state=state, detail=detail)
            await add_events(self._tx, delivery_id, [event])

    async def on_channel(self, channel: str, state: DeliveryState) -> list[str]:
        """Ids of the channel's deliveries in ``state``."""
        rows = await self._tx.fetch_all(
            self.sql.queued_deliveries_of_channel, (channel, state.value)
        )
        return [str(row["id"]) for row in rows]
