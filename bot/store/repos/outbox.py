"""The outbox's jobs (implements ``bot.core.ports.OutboxRepo``)."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from bot.core.models import Job
from bot.core.ports import RequestJob, notice_ref
from bot.store.codec import opt_ts, parse_ts, ts
from bot.store.repos.bound import Rows


def step_refs(request_id: str) -> tuple[str, str]:
    """The range of the request's step refs, ``"<request id>/<step key>"``: '0' is the
    character after '/', so the range holds exactly this request's steps."""
    return f"{request_id}/", f"{request_id}0"


class OutboxRows(Rows):
    """The ``outbox`` table: enqueued with a change, leased, finished, retried or buried."""

    async def enqueue(
        self, kind: str, ref: str, run_at: datetime, payload: str = "{}", *, channel: str = ""
    ) -> None:
        """Queue a job due at ``run_at`` (for ``channel``, when it goes to one; a deferred
        write: see ``EngineTx.defer``)."""
        params = (kind, ref, payload, ts(run_at), ts(run_at), channel)
        await self._tx.defer(self.sql.enqueue, params)

    async def enqueue_redraw(
        self, kind: str, ref: str, run_at: datetime, *, channel: str = ""
    ) -> None:
        """Queue a card's redraw due at ``run_at`` unless one is already waiting unclaimed
        (deferred, as :meth:`enqueue`)."""
        params = {"kind": kind, "ref": ref, "payload": "{}", "at": ts(run_at), "channel": channel}
        await self._tx.defer(self.sql.enqueue_redraw, params)

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        kinds: Collection[str] = (),
        channels: Collection[str] = (),
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs (of ``kinds``, for ``channels``, when given) to
        ``owner``."""
        params: dict[str, Any] = {
            "owner": owner,
            "until": ts(lease_until),
            "now": ts(now),
            "limit": limit,
        }
        share = _filter(self.sql.claim_kind_in, "k", kinds, params)
        if kinds and channels:  # the channel index leads with the kind
            share += _filter(self.sql.claim_channel_in, "c", channels, params)
        rows = await self._tx.fetch_all(self.sql.claim.format(kinds=share), params)
        return [
            Job(
                id=row["id"],
                kind=row["kind"],
                ref=row["ref"],
                payload=json.loads(row["payload"]),
                attempts=row["attempts"],
                created_at=parse_ts(row["created_at"]),
                last_error=row["last_error"],
                lease_owner=owner,
            )
            for row in rows
        ]

    async def complete(self, job_id: int, owner: str) -> None:
        """The job is done (while ``owner`` still holds its lease; a deferred write: see
        ``EngineTx.defer``)."""
        await self._tx.defer(self.sql.complete, (job_id, owner))

    async def reschedule(self, job_id: int, owner: str, run_at: datetime, error: str) -> None:
        """Try again at ``run_at`` (an attempt counted)."""
        await self._tx.execute(self.sql.reschedule, (ts(run_at), error, job_id, owner))

    async def defer(self, job_id: int, owner: str, run_at: datetime) -> None:
        """Put the job back until ``run_at``, no attempt counted."""
        await self._tx.execute(self.sql.defer, (ts(run_at), job_id, owner))

    async def bury(self, job_id: int, owner: str, error: str) -> None:
        """The job failed for good."""
        await self._tx.execute(self.sql.bury, (error, job_id, owner))

    async def release(self, owner: str) -> int:
        """Give up ``owner``'s leases; how many."""
        return await self._tx.execute(self.sql.release, (owner,))

    async def wake_channel(self, channel: str, kinds: tuple[str, str], now: datetime) -> None:
        """Make the channel's waiting jobs of ``kinds`` due now."""
        await self._tx.execute(self.sql.wake_channel_jobs, (ts(now), *kinds, ts(now), channel))

    async def cancel_steps(self, request_id: str, at: datetime) -> int:
        """Cancel the request's timing steps still pending; how many."""
        low, high = step_refs(request_id)
        return await self._tx.execute(self.sql.cancel_steps, (ts(at), low, high))

    async def of_request(self, request_id: str) -> list[RequestJob]:
        """The request's steps and submitter notice, by due time."""
        low, high = step_refs(request_id)
        rows = await self._tx.fetch_all(self.sql.request_jobs, (low, high, notice_ref(request_id)))
        jobs = [
            RequestJob(
                kind=row["kind"],
                ref=row["ref"],
                payload=json.loads(row["payload"]),
                state=row["state"],
                due=parse_ts(row["next_attempt_at"]),
                done_at=opt_ts(row["done_at"]),
                last_error=row["last_error"],
            )
            for row in rows
        ]
        return sorted(jobs, key=lambda job: (job.due, job.ref))


def _filter(fragment: str, prefix: str, values: Collection[str], params: dict[str, Any]) -> str:
    # Named placeholders only (the values never reach the SQL text): one lane's share of the
    # outbox (its kinds, and its channels), served by an index of pending jobs.
    if not values:
        return ""
    marks = []
    for value in sorted(values):
        key = f"{prefix}{len(params)}"
        params[key] = value
        marks.append(f":{key}")
    return " " + fragment.format(marks=", ".join(marks))
