"""Marks of the steps run (implements ``bot.core.ports.StepRepo``)."""

from __future__ import annotations

from datetime import datetime

from bot.core.ports import StepMark
from bot.errors import StoreError
from bot.store.codec import ts
from bot.store.repos.bound import Rows


class StepRows(Rows):
    """The ``step_runs`` table: one row per reminder or escalation step job, by its ref."""

    async def start(self, ref: str, at: datetime) -> StepMark | None:
        """Mark the step started; None when it had no mark, else the mark it keeps."""
        if await self._tx.execute(self.sql.start_step, (ref, ts(at))) == 1:
            return None
        row = await self._tx.fetch_one(self.sql.step_state, (ref,))
        state = row["state"] if row is not None else None
        if state not in ("started", "done"):  # the insert found a row: it is one of the two
            raise StoreError(f"step {ref} has no readable mark ({state!r})")
        return "started" if state == "started" else "done"

    async def done(self, ref: str, at: datetime) -> None:
        """Mark the step done."""
        await self._tx.execute(self.sql.finish_step, (ref, ts(at)))

    async def release(self, ref: str) -> None:
        """Forget a started mark (a done one stays)."""
        await self._tx.execute(self.sql.release_step, (ref,))
