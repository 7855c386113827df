"""The outbox worker: claims due jobs with a lease, runs them, retries with backoff.

A job's lease outlives a crash only by ``lease_seconds``: after that any worker (this process
restarted, or another replica) claims it again, so an accepted job is never stranded. Jobs are
idempotent by construction (see ``bot.core.jobs``), and the decision webhook carries a stable
event id, so running a job twice after a crash forwards nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from datetime import timedelta

from bot.core.jobs import JobRunner
from bot.core.models import Job
from bot.core.ports import Clock, Store
from bot.core.retry import RetryStrategy
from bot.core.service import ApprovalService
from bot.errors import BackendError, ChannelError, GatewayError
from bot.logs import bind
from bot.metrics import Metrics

log = logging.getLogger("bot.outbox")


class OutboxWorker:
    """Drains the outbox until stopped; also expires overdue requests."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        runner: JobRunner,
        service: ApprovalService,
        metrics: Metrics,
        *,
        retry: RetryStrategy,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        concurrency: int = 8,
        expiry_sweep_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._runner = runner
        self._service = service
        self._metrics = metrics
        self._retry = retry
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._sweep = expiry_sweep_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def notify(self) -> None:
        """New jobs were committed: look now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until :meth:`stop`; returns after in-flight jobs finish."""
        sweeper = asyncio.create_task(self._sweep_expired(), name="outbox-expiry-sweeper")
        try:
            while not self._stop.is_set():
                claimed = await self._claim_batch()
                if not claimed:
                    await self._idle()
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            await self._release_leases()

    def stop(self) -> None:
        """Ask the loop to finish; in-flight jobs complete, nothing new is claimed."""
        self._stop.set()
        self._wake.set()

    def abort(self) -> None:
        """Cancel the jobs still running (after :meth:`stop`, when the grace period is over);
        :meth:`run` then releases their leases and returns."""
        for task in self._running:
            task.cancel()

    async def _release_leases(self) -> None:
        # Leases still ours belong to jobs that did not finish: hand them back now rather than
        # make the next worker wait lease_seconds for them.
        try:
            async with self._store.write() as tx:
                released = await tx.release(self.owner)
        except GatewayError:
            log.exception("releasing outbox leases failed; they expire by themselves")
            return
        if released:
            log.warning("unfinished outbox jobs released", extra={"jobs": released})

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
        self._wake.clear()

    async def _claim_batch(self) -> int:
        free = self._concurrency - len(self._running)
        if free <= 0:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            return 1
        now = self._clock.now()
        try:
            async with self._store.write() as tx:
                jobs = await tx.claim(self.owner, now, now + self._lease, free)
        except GatewayError:
            log.exception("claiming outbox jobs failed")
            return 0
        for job in jobs:
            task = asyncio.create_task(self._run_one(job), name=f"outbox-{job.kind}-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(jobs)

    async def _run_one(self, job: Job) -> None:
        with bind(job_id=str(job.id), job_kind=job.kind):
            try:
                async with self._slots:
                    await self._runner.run(job)
            except GatewayError as error:
                await self._failed(job, error)
            except Exception as exc:  # a bug must not kill the worker; retry like a transient error
                log.exception("job crashed")
                await self._failed(job, GatewayError(f"internal error: {type(exc).__name__}"))
            else:
                await self._finish(job)

    async def _finish(self, job: Job) -> None:
        async with self._store.write() as tx:
            await tx.complete(job.id, self.owner)
        self._metrics.job_done(job, self._clock.now())

    async def _failed(self, job: Job, error: GatewayError) -> None:
        retryable = getattr(error, "retryable", True)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, ChannelError | BackendError) and retry_after is not None:
            self._metrics.throttled(job.kind)
        now = self._clock.now()
        decision = self._retry.decide(
            job.attempts,
            first_tried=job.created_at,
            now=now,
            retryable=retryable,
            retry_after=retry_after,
        )
        if decision is None:
            log.warning("job failed for good", extra={"error": error.message})
            await self._runner.give_up(job, error)
            async with self._store.write() as tx:
                await tx.bury(job.id, self.owner, error.message)
            return
        log.info("job will be retried", extra={"error": error.message, "delay": decision.delay})
        async with self._store.write() as tx:
            await tx.reschedule(
                job.id, self.owner, now + timedelta(seconds=decision.delay), error.message
            )

    async def _sweep_expired(self) -> None:
        while True:
            try:
                await self._service.expire_due()
            except GatewayError:
                log.exception("expiry sweep failed")
            await asyncio.sleep(self._sweep)
