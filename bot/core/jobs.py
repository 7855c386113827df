"""What each outbox job does. The worker claims and retries; these only do one job's work.

A handler raises ChannelError / BackendError to be retried (the worker's RetryStrategy decides
when), and ``give_up`` records the permanent failure where support and the backend can see it.
Network calls happen outside transactions; each result is then committed with its follow-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from bot import tracing
from bot.core import forwards, redraw
from bot.core.batched_reads import BatchedReads
from bot.core.batched_writes import BatchedWrites
from bot.core.card_loads import CardLoads
from bot.core.directory import ChannelDirectory
from bot.core.forwards import Forwarding
from bot.core.models import (
    Decision,
    DeliveryState,
    ForwardState,
    Job,
    RequestStatus,
    StoredRequest,
)
from bot.core.nudges import Nudges, Nudging
from bot.core.ports import (
    Backend,
    Channel,
    Clock,
    IdentityNotice,
    OutgoingCard,
    SendReceipt,
    Store,
    UnitOfWork,
)
from bot.core.service import (
    FORWARD_DECISION,
    SEND_CARD,
    TELL_IDENTITY,
    UPDATE_CARD,
    ApprovalService,
)
from bot.core.step_events import FORWARD_STEP, StepForwarder
from bot.core.timing.steps import ADD_APPROVERS, TIMING_STEP, StepJob
from bot.core.vote_events import FORWARD_VOTE, VoteForwarder
from bot.errors import BackendError, ChannelError, GatewayError
from bot.logs import bind, kv

log = logging.getLogger("bot.jobs")
Gate = Callable[[str, datetime], None]
"""Raises ChannelError unless the channel may take a job queued at the given time."""
FINAL = (DeliveryState.SENT, DeliveryState.UPDATED)
SENT, UPDATED = "sent", "updated"  # usage kinds
Handler = Callable[[Job], Awaitable[bool | None]]
"""Does one job's work; True when it also completed the job, in the unit of its outcome."""


class JobRunner:
    """Runs one claimed outbox job by kind."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        channels: ChannelDirectory,
        backend: Backend,
        service: ApprovalService,
        gate: Gate | None = None,
        nudging: Nudging | None = None,
    ) -> None:
        self._service = service
        self._gate = gate or _open_gate
        self._store = store
        self._clock = clock
        self._channels = channels
        self._backend = backend
        self._cards = CardLoads(store, self._picks)
        self._updated = BatchedWrites(store, "outbox-card-updates")
        # Urgent, like the click that made the decision and the claim of its forward: the
        # forwards lane's slot is held until this commits, and behind a card backlog an ordinary
        # unit waited for the sends' share of the store while decisions queued for the slots.
        # The forwards that come back together are recorded in one unit, each with its job's
        # completion.
        self._forwarded = BatchedWrites(store, "outbox-forwards", urgent=True)
        self._decisions = BatchedReads(self._forwards, "outbox-forward-loads")
        self._kinds: dict[str, Handler] = {  # keys: bot.core.lanes.JOB_KINDS
            SEND_CARD: self._send_card,
            UPDATE_CARD: self._update_card,
            FORWARD_DECISION: self._forward,
            FORWARD_VOTE: VoteForwarder(store, backend).run,
            TELL_IDENTITY: self._tell,
            FORWARD_STEP: StepForwarder(backend).run,
            TIMING_STEP: self._step,
        }
        self._nudges = Nudges(store, clock, service.router, self._channel, nudging)

    async def run(self, job: Job) -> bool:
        """Do the job; raises a GatewayError subclass when it must be retried or failed.

        True: the job is done already, completed (as its ``lease_owner``) in the unit that
        recorded its outcome; False: the caller completes it."""
        handler = self._kinds.get(job.kind)
        if handler is None:
            raise GatewayError(f"unknown job kind {job.kind}")
        return bool(await handler(job))

    async def _step(self, job: Job) -> None:
        # Adding approvers is a change of the request (cards, redraws); the rest are nudges.
        step = StepJob.model_validate(job.payload)
        if step.action == ADD_APPROVERS:
            await self._service.add_approvers(step)
        else:
            await self._nudges.run(job)

    async def _tell(self, job: Job) -> None:
        notice = IdentityNotice.model_validate(job.payload)
        await self._channel(notice.channel, job.created_at).tell(notice.address, notice.text)

    async def give_up(self, uow: UnitOfWork, job: Job, error: GatewayError) -> None:
        """Record, in the caller's ``uow`` (the one that buries the job), a job that will never
        succeed on the delivery or decision it was for."""
        now = self._clock.now()
        if job.kind == FORWARD_DECISION:
            await self._forward_failed(uow, job.ref, error.message)
        elif job.kind in (SEND_CARD, UPDATE_CARD):
            await uow.deliveries.set_state(
                job.ref, DeliveryState.FAILED, now, error.message, reason=error.message
            )
        if job.kind == SEND_CARD:
            failed = await uow.deliveries.get(job.ref)
            if failed is not None:
                await self._service.reroute(uow, failed, error.message)

    async def _load(self, delivery_id: str) -> OutgoingCard | None:
        # The cards of the jobs one claim started are read together, each request once.
        return await self._cards.card(delivery_id)

    def _picks(self, name: str) -> bool:
        channel = self._channels.get(name)
        return channel is not None and channel.capabilities.person_picker

    def _channel(self, name: str, queued_at: datetime) -> Channel:
        # Revoked, broken, or waiting for renewed consent since the card was queued: the gate
        # holds the job (retryable) or fails it over for good.
        self._gate(name, queued_at)
        channel = self._channels.get(name)
        if channel is None:
            raise ChannelError(f"channel {name} is not running", retryable=False)
        return channel

    async def _send_card(self, job: Job) -> None:
        card = await self._load(job.ref)
        if card is None or card.delivery.state is not DeliveryState.QUEUED:
            return  # already handled by an earlier attempt that committed
        with _joined("approval.send", card, job):
            if card.request.status is not RequestStatus.PENDING and not self._may_be_out(job, card):
                await self._mark(card, DeliveryState.SKIPPED, f"request {card.request.status}")
                return
            channel = self._channel(card.delivery.channel, job.created_at)
            with _platform(card.delivery.channel):
                receipt = await channel.send(card)
            now = self._clock.now()
            async with self._store.unit() as uow:
                # First of all: a close committing meanwhile on another replica either sees
                # this card sent or is seen by after_send below (never neither).
                await uow.requests.lock(card.request.id)
                # Its state alone: the card to send was read already, before the platform call.
                if await uow.deliveries.state(card.delivery.id) is not DeliveryState.QUEUED:
                    return  # a parallel attempt (expired lease) committed first: count it once
                await uow.deliveries.set_state(
                    card.delivery.id,
                    DeliveryState.SENT,
                    now,
                    receipt.detail,
                    external_ref=receipt.external_ref,
                )
                await _meter(uow, card, SENT, receipt, now)
                await redraw.after_send(uow, card.delivery, now)
            log.info("card sent", extra=kv(channel=card.delivery.channel))

    def _may_be_out(self, job: Job, card: OutgoingCard) -> bool:
        """Whether an earlier attempt may have put this card on the approver's phone.

        An attempt that died after the platform took the card (a crash before our commit, a
        lost answer) leaves a live card that nothing would ever update if the delivery were
        skipped once the request is decided. A chat platform's send is idempotent per
        delivery (Lark ``uuid``, DingTalk ``outTrackId``), so sending again returns that card,
        and the follow-up update redraws it with the outcome. Email cannot be redrawn and a
        second mail is a duplicate, so email is skipped as before.
        """
        name = card.delivery.channel
        channel = self._channels.get(name)
        if job.attempts <= 1 or channel is None or channel.kind != "chat":
            return False
        try:
            self._gate(name, job.created_at)
        except GatewayError:
            return False  # a channel that may not send cannot resend it either
        return True

    async def _update_card(self, job: Job) -> None:
        card = await self._load(job.ref)
        if card is None or card.delivery.state not in FINAL:
            return
        if redraw.already_shown(job.payload, card):
            return  # the click's answer (or an update after it) already shows the outcome
        with _joined("approval.update", card, job):
            channel = self._channel(card.delivery.channel, job.created_at)
            with _platform(card.delivery.channel):
                receipt = await channel.update(card)
            now = self._clock.now()

            async def updated(uow: UnitOfWork) -> None:
                await uow.deliveries.set_state(
                    card.delivery.id,
                    DeliveryState.UPDATED,
                    now,
                    receipt.detail or _state_of(card.request),
                )
                await _meter(uow, card, UPDATED, receipt, now)

            # With the other cards' updates that came back meanwhile: one write for them all.
            await self._updated.write(updated)
            log.info("card updated", extra=kv(state=_state_of(card.request)))

    async def _mark(self, card: OutgoingCard, state: DeliveryState, detail: str) -> None:
        async with self._store.unit() as uow:
            await uow.deliveries.set_state(card.delivery.id, state, self._clock.now(), detail)

    async def _forward(self, job: Job) -> bool:
        # A first attempt sends the event its job carries; any other reads the decision, with
        # the other forwards that start together, in one urgent snapshot (bot.core.forwards).
        forwarding = forwards.carried(job) or await self._decisions.read(job.ref)
        if forwarding is None:
            raise BackendError(f"decision {job.ref} not found", retryable=False)
        if not forwarding.pending:
            return False
        with (
            tracing.joined("approval.forward", forwarding.request_id, forwarding.ticket_id),
            bind(decision_id=job.ref),
        ):
            receipt = await self._backend.deliver(forwarding.event)
            detail = "already decided there (409)" if receipt.already_decided else "accepted"
            at, said = self._clock.now(), f"{receipt.status} {detail}"
            owner = job.lease_owner

            async def record(uow: UnitOfWork) -> None:
                await uow.requests.set_forward_state(job.ref, ForwardState.FORWARDED, at, said)
                if owner is not None:  # the job done in the same unit: no write of its own
                    await uow.outbox.complete(job.id, owner)

            await self._forwarded.write(record)
            log.info("decision forwarded", extra=kv(status=receipt.status))
        return owner is not None

    async def _forwards(self, decision_ids: list[str]) -> list[Forwarding | None]:
        # Urgent, like the click that made the decisions and the claim of their forwards.
        async with self._store.snapshot(urgent=True) as uow:
            return [await _forwarding(uow, decision_id) for decision_id in decision_ids]

    async def _forward_failed(self, uow: UnitOfWork, decision_id: str, why: str) -> None:
        now = self._clock.now()
        await uow.requests.set_forward_state(decision_id, ForwardState.FAILED, now, why)
        _, request = await _decision_and_request(uow, decision_id)
        # Every card says "could not submit — open the console", so nobody believes it went through.
        await redraw.after_close(uow, request, now)
        log.error("decision could not be forwarded", extra=kv(reason=why))


@contextmanager
def _joined(name: str, card: OutgoingCard, job: Job) -> Iterator[None]:
    request = card.request
    with (
        tracing.joined(
            name,
            request.id,
            request.ticket.ticket_id,
            channel=card.delivery.channel,
            attempt=job.attempts,
        ),
        bind(delivery_id=card.delivery.id),
    ):
        yield


@contextmanager
def _platform(name: str) -> Iterator[None]:
    # Which platform's call failed travels with the error to the worker, which counts it (a
    # channel the consent gate holds made no call: not counted).
    try:
        yield
    except ChannelError as error:
        error.platform = error.platform or name
        raise


def _open_gate(name: str, queued_at: datetime) -> None:
    """No consent to consult (tools and tests that run without one): every channel may send."""


async def _meter(
    uow: UnitOfWork, card: OutgoingCard, kind: str, receipt: SendReceipt, at: datetime
) -> None:
    # Counted in the transaction that records the delivery's new state, so an attempt that
    # failed, or whose result never committed, is never billed: only what the platform took.
    if receipt.sent:
        await uow.ledger.meter(card.delivery.channel, card.delivery.account_id, kind, at)


def _state_of(request: StoredRequest) -> str:
    decision = request.decision
    if decision is not None and decision.forward_state is ForwardState.FAILED:
        return "could not submit"
    return str(request.status)


async def _forwarding(uow: UnitOfWork, decision_id: str) -> Forwarding | None:
    # The decision as stored, its request with the votes the event lists (None: not found).
    request = await uow.requests.by_decision(decision_id)
    if request is None or request.decision is None:
        return None
    votes = await uow.votes.of_request(request.id)
    return forwards.stored(request.decision, request.with_votes(votes))


async def _decision_and_request(
    uow: UnitOfWork, decision_id: str
) -> tuple[Decision, StoredRequest]:
    request = await uow.requests.by_decision(decision_id)
    if request is None or request.decision is None:
        raise BackendError(f"decision {decision_id} not found", retryable=False)
    return request.decision, request
