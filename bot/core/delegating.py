"""Setting, listing and clearing delegations while away, audited in the unit that writes them.

The rules are :func:`bot.core.delegation.check`'s, run against every delegation not ended yet,
inside the writing unit: a delegation that would overlap the approver's own or close a cycle
at some moment of its window is refused (422, the field named) and nothing is written.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.delegation import Delegation, check
from bot.core.ports import Clock, Store, UnitOfWork, within
from bot.errors import InvalidInput


class Delegations:
    """Delegations as the ``/v1/me/delegation`` and admin routes and the CLI manage them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def set(
        self,
        account_id: str,
        delegate_id: str,
        ends_at: datetime,
        *,
        starts_at: datetime | None = None,
        by: str,
        source: str,
        uow: UnitOfWork | None = None,
    ) -> Delegation:
        """Name ``delegate_id`` for ``account_id`` from ``starts_at`` (default now, a past
        start counts from now) until ``ends_at``; InvalidInput when the rules refuse it.
        Written in ``uow`` when given (a signed call's, kept with its answer)."""
        now = self._clock.now()
        if ends_at <= now:
            raise InvalidInput("the delegation would be over already", {"ends_at": "in the past"})
        start = now if starts_at is None or starts_at < now else starts_at
        new = Delegation(account_id, delegate_id, start, ends_at, set_by=by)
        async with within(self._store, uow) as unit:
            check(new, await unit.delegations.current(now))
            await unit.delegations.add(new, now)
            detail = f"to {delegate_id} from {start.isoformat()} until {ends_at.isoformat()}"
            await unit.ledger.audit(now, by, "delegation.set", account_id, detail, source)
        return new

    async def list(self, account_id: str | None = None) -> list[Delegation]:
        """The delegations not ended yet: one approver's, or everyone's."""
        async with self._store.snapshot() as uow:
            found = await uow.delegations.current(self._clock.now())
        return [d for d in found if account_id is None or d.account_id == account_id]

    async def clear(
        self, account_id: str, *, by: str, source: str, uow: UnitOfWork | None = None
    ) -> int:
        """End the approver's current and future delegations; how many were dropped."""
        now = self._clock.now()
        async with within(self._store, uow) as unit:
            dropped = await unit.delegations.clear(account_id, now)
            if dropped:
                await unit.ledger.audit(
                    now, by, "delegation.clear", account_id, f"{dropped} dropped", source
                )
        return dropped
