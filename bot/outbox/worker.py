"""The outbox worker: claims due jobs with a lease, runs them, retries with backoff.

A job's lease outlives a crash only by ``lease_seconds``: after that any worker (this process
restarted, or another replica) claims it again, so an accepted job is never stranded. Jobs are
idempotent by construction (see ``bot.core.jobs``), and the decision webhook carries a stable
event id, so running a job twice after a crash forwards nothing twice.

Each lane (``bot.core.lanes``: decision forwards, card updates, each paced platform's card
updates, card sends, steps) has its own claim loop and its own share of concurrency, so a
backend that hangs on every webhook, or a thousand cards waiting for a platform's rate limit,
hold up only their own lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot import logs
from bot.core.batched_writes import BatchedWrites
from bot.core.jobs import JobRunner
from bot.core.lanes import Lane
from bot.core.models import Job
from bot.core.ports import Clock, Store, UnitOfWork
from bot.core.retry import RetryStrategy
from bot.core.service import ApprovalService
from bot.errors import BackendError, ChannelDeferred, ChannelError, GatewayError
from bot.logs import bind, kv
from bot.metrics import Metrics

log = logging.getLogger("bot.outbox")

FORGET_BATCH = 500  # expired signed answers dropped per transaction
FORGET_ROUNDS = 20  # transactions per sweep at most: a backlog drains over a few sweeps


class _LaneState:
    # One lane's claim loop: its own wake-up and its own jobs in flight.
    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.wake = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()


class _Completions:
    # Jobs that finish while a flush is running are marked done together by the next one: one
    # write part for many jobs instead of one each, however many lanes finish at once.
    def __init__(self, store: Store, owner: str) -> None:
        self._writes = BatchedWrites(store, "outbox-completions")
        self._owner = owner

    async def complete(self, job_id: int) -> None:
        async def done(uow: UnitOfWork) -> None:
            await uow.outbox.complete(job_id, self._owner)

        await self._writes.write(done)


def _lag(jobs: Sequence[Job], now: datetime) -> float:
    # Claims come oldest due first; a first attempt became due when it was queued. Retried
    # jobs were due at a time the claim does not return: they do not count.
    first = [job.created_at for job in jobs if job.attempts <= 1]
    return max((now - min(first)).total_seconds(), 0.0) if first else 0.0


class OutboxWorker:
    """Drains the outbox until stopped, one claim loop per lane; also expires overdue requests."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        runner: JobRunner,
        service: ApprovalService,
        metrics: Metrics,
        *,
        retry: RetryStrategy,
        lanes: Sequence[Lane],
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
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
        self._lanes = [_LaneState(lane) for lane in lanes]
        metrics.watch_lanes(lanes)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._completions = _Completions(store, self.owner)
        self._stop = asyncio.Event()

    def notify(self, *kinds: str) -> None:
        """New jobs of ``kinds`` (none named: any) were committed: the lanes that take them
        look now instead of at their next poll."""
        for state in self._lanes:
            if not kinds or any(state.lane.takes(kind) for kind in kinds):
                state.wake.set()

    async def run(self) -> None:
        """Claim and run jobs until :meth:`stop`; returns after in-flight jobs finish."""
        sweeper = asyncio.create_task(self._sweep_expired(), name="outbox-expiry-sweeper")
        loops = [
            asyncio.create_task(self._drain(state), name=f"outbox-lane-{state.lane.name}")
            for state in self._lanes
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in (sweeper, *loops):
                task.cancel()
            await asyncio.gather(sweeper, *loops, return_exceptions=True)
            running = self._running()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            await self._release_leases()

    def stop(self) -> None:
        """Ask the loops to finish; in-flight jobs complete, nothing new is claimed."""
        self._stop.set()
        self.notify()

    def abort(self) -> None:
        """Cancel the jobs still running (after :meth:`stop`, when the grace period is over);
        :meth:`run` then releases their leases and returns."""
        for task in self._running():
            task.cancel()

    def _running(self) -> list[asyncio.Task[None]]:
        return [task for state in self._lanes for task in state.running]

    async def _release_leases(self) -> None:
        # Leases still ours belong to jobs that did not finish: hand them back now rather than
        # make the next worker wait lease_seconds for them.
        try:
            async with self._store.unit() as uow:
                released = await uow.outbox.release(self.owner)
        except GatewayError:
            log.exception("releasing outbox leases failed; they expire by themselves")
            return
        if released:
            log.warning("unfinished outbox jobs released", extra=kv(jobs=released))

    async def _drain(self, state: _LaneState) -> None:
        while not self._stop.is_set():
            claimed = await self._claim_batch(state)
            if not claimed:
                await self._idle(state)

    async def _idle(self, state: _LaneState) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives
        # in the same loop turn as the wake-up, and the stop would wait on this lane for good.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll):
                await state.wake.wait()
        state.wake.clear()

    async def _claim_batch(self, state: _LaneState) -> int:
        lane = state.lane
        free = lane.concurrency - len(state.running)
        if free <= 0 or (state.running and free < lane.claim_at):
            await asyncio.wait(state.running, return_when=asyncio.FIRST_COMPLETED)
            return 1
        now = self._clock.now()
        try:
            async with self._store.unit(urgent=lane.urgent) as uow:
                jobs = await uow.outbox.claim(
                    self.owner,
                    now,
                    now + self._lease,
                    free,
                    kinds=lane.kinds,
                    channels=lane.channels,
                )
        except GatewayError:
            log.exception("claiming outbox jobs failed", extra=kv(lane=lane.name))
            return 0
        self._metrics.outbox_lag.labels(lane=lane.name).set(_lag(jobs, now))
        for job in jobs:
            task = asyncio.create_task(self._run_one(job), name=f"outbox-{job.kind}-{job.id}")
            state.running.add(task)
            task.add_done_callback(state.running.discard)
        return len(jobs)

    async def _run_one(self, job: Job) -> None:
        # scope: the request's ids a job finds stay on its later lines (a retry, a failure).
        with logs.scope(), bind(job_id=str(job.id), job_kind=job.kind):
            try:
                completed = await self._runner.run(job)
            except GatewayError as error:
                await self._failed(job, error)
            except Exception as exc:  # a bug must not kill the worker; retry like a transient error
                log.exception("job crashed")
                await self._failed(job, GatewayError(f"internal error: {type(exc).__name__}"))
            else:
                await self._finish(job, completed)

    async def _finish(self, job: Job, completed: bool) -> None:
        if not completed:  # else done in the unit that recorded the job's outcome
            await self._completions.complete(job.id)
        self._metrics.job_done(job, self._clock.now())

    async def _failed(self, job: Job, error: GatewayError) -> None:
        if isinstance(error, ChannelDeferred):
            await self._defer(job, error)
            return
        retryable = getattr(error, "retryable", True)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, ChannelError | BackendError) and retry_after is not None:
            self._metrics.throttled(job.kind)
        if isinstance(error, ChannelError) and error.platform:
            code = error.platform_code or error.code  # the platform's own, else ours
            self._metrics.platform_errors.labels(platform=error.platform, code=code).inc()
        now = self._clock.now()
        decision = self._retry.decide(
            job.attempts,
            first_tried=job.created_at,
            now=now,
            retryable=retryable,
            retry_after=retry_after,
        )
        if decision is None:
            log.warning("job failed for good", extra=kv(error=error.message))
            # One unit: the failure shows on the delivery (or decision) when, and only when,
            # the job is gone from the queue, so no reader sees one without the other.
            async with self._store.unit() as uow:
                await self._runner.give_up(uow, job, error)
                await uow.outbox.bury(job.id, self.owner, error.message)
            return
        log.info("job will be retried", extra=kv(error=error.message, delay=decision.delay))
        async with self._store.unit() as uow:
            await uow.outbox.reschedule(
                job.id, self.owner, now + timedelta(seconds=decision.delay), error.message
            )

    async def _defer(self, job: Job, error: ChannelDeferred) -> None:
        # The receiver's rate budget is spent and nothing was sent: hand the slot to other
        # receivers' jobs and come back exactly when the budget has room, with no backoff and
        # no attempt counted (a throttled user must not hold up everyone else's cards).
        delay = max(error.retry_after or 0.0, 0.0)
        async with self._store.unit() as uow:
            await uow.outbox.defer(job.id, self.owner, self._clock.now() + timedelta(seconds=delay))
        # Look again when it is due rather than at the next idle poll.
        asyncio.get_running_loop().call_later(delay, self.notify)

    async def _sweep_expired(self) -> None:
        while True:
            try:
                await self._service.expire_due()
                await self._forget_answers()
            except GatewayError:
                log.exception("expiry sweep failed")
            await asyncio.sleep(self._sweep)

    async def _forget_answers(self) -> None:
        # The kept answers to signed calls, swept here rather than on every call: an index range
        # on expires_at, in short transactions so intake never queues behind a long delete.
        for _ in range(FORGET_ROUNDS):
            async with self._store.unit() as uow:
                forgotten = await uow.answers.forget(self._clock.now(), FORGET_BATCH)
            if forgotten < FORGET_BATCH:
                return
