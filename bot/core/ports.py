"""Ports: what the domain needs from the edges, and nothing about how the edges do it.

The store, the chat/mail channels, the ticket backend and the clock are reached only through
these protocols; adapters live in ``bot.store``, ``bot.channels`` and ``bot.backend``.

Over 400 lines on purpose: every port of the use cases, with the values they pass, in one file,
so whoever writes an adapter reads its whole contract in one place (the repositories the HTTP
and CLI edges use are in :mod:`bot.core.storage`). The store is one small repository per area
(answers, requests, deliveries, outbox, identities, ledger, credentials), reached only through a
:class:`UnitOfWork` its caller opens and passes down.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from bot.core.delegation import Delegation
from bot.core.intake import Approver, ChannelName, UrgencyKind
from bot.core.models import (
    ActionResult,
    Decision,
    Delivery,
    DeliveryState,
    Entity,
    ForwardState,
    InboundAction,
    Job,
    RequestStatus,
    RosterChange,
    StoredRequest,
    Vote,
)
from bot.core.routing import RoutePreference
from bot.core.storage import BindingRepo, CredentialRepo, PreferenceRepo


class Clock(Protocol):
    """Source of the current time (aware, UTC); injected so tests can move it."""

    def now(self) -> datetime: ...


# --------------------------------------------------------------------------- store


class SignedAnswer(Entity):
    """What the gateway answered to a signed request, kept under its request id.

    A resend of the same request (same id and hash of method, path, query and body) is given
    this answer again and acts no second time; the same id with another request is refused.
    """

    request_hash: str
    status: int
    content_type: str | None = None
    key_id: str | None = None  # the master key that sealed ``body``: answers hold codes
    body: bytes | None = None


class AnswerRepo(Protocol):
    """The idempotency and replay memory of signed requests (``bot.http.once``)."""

    async def recall(self, request_id: str) -> SignedAnswer | None:
        """The answer kept for ``request_id``, if any."""
        ...

    async def claim(
        self, request_id: str, request_hash: str, at: datetime, expires_at: datetime
    ) -> bool:
        """Take ``request_id`` for this unit of work; False if it is already taken.

        Where transactions run side by side (PostgreSQL), a claim of an id another open
        unit holds waits for that one's end: False once it commits (its answer is then
        recalled), True if it rolled back.
        """
        ...

    async def keep(
        self, request_id: str, answer: SignedAnswer, at: datetime, expires_at: datetime
    ) -> None:
        """Keep the answer to a signed request until ``expires_at`` (over its claim, if any)."""
        ...

    async def forget(self, now: datetime, limit: int) -> int:
        """Drop up to ``limit`` answers that expired before ``now`` (an index range, cheap)."""
        ...


class RequestRepo(Protocol):
    """Approval requests and the decision that closes each (loaded with their deliveries)."""

    async def insert(self, request: StoredRequest) -> bool:
        """Store a new request; False, storing nothing, if its ticket is already stored."""
        ...

    async def get(self, request_id: str) -> StoredRequest | None: ...
    async def status(self, request_id: str) -> RequestStatus | None:
        """The request's status alone (no deliveries loaded: cheap inside a write)."""
        ...

    async def find(self, ticket_id: str) -> StoredRequest | None: ...
    async def by_decision(self, decision_id: str) -> StoredRequest | None: ...
    async def close(
        self, request_id: str, status: RequestStatus, at: datetime, reason: str | None
    ) -> bool:
        """Move a pending request to a final status, its reminder and escalation steps still
        pending cancelled with it (no step after the outcome); False if it was no longer
        pending (nothing changed)."""
        ...

    async def close_held(
        self, request_id: str, status: RequestStatus, at: datetime, reason: str | None
    ) -> None:
        """:meth:`close` a request this unit read pending under its exclusive lock
        (:meth:`for_vote`): nothing else can close it meanwhile, so nothing is read back (the
        engine may send it with the unit's next statement); if it was not pending after all,
        the unit fails (StoreError)."""
        ...

    async def set_changes(self, request_id: str, changes: Sequence[RosterChange]) -> bool:
        """Store who joined the pending request since it started (``bot.core.roster``);
        False if it was no longer pending."""
        ...

    async def lock(self, request_id: str, *, exclusive: bool = False) -> None:
        """Hold the request's row until this unit ends: a close of it in another unit waits
        for this one's commit, or this for the close's. (One SQLite writer at a time has that
        already.) ``exclusive``: another exclusive lock of it waits too, so two clicks counting
        the votes of one request take turns and each sees the other's vote."""
        ...

    async def for_vote(
        self, delivery_id: str, channel: ChannelName | None = None
    ) -> StoredRequest | None:
        """The request of the card ``delivery_id`` with its votes, held as :meth:`lock`
        ``exclusive`` holds it and read once the lock is granted (one round trip where the
        engine can); None for an unknown card. ``channel``: the click's; where the engine
        reads them in the same call, the bindings of the request's approvers on it come too,
        and the unit's ``identities.binding_address`` answers them until the unit writes."""
        ...

    async def due_for_expiry(self, now: datetime, limit: int) -> Sequence[str]: ...
    async def insert_decision(
        self, decision: Decision, forward: str | None = None, *, payload: str = "{}"
    ) -> None:
        """Record the decision that closed a request; ``forward``: with the outbox job of that
        kind, due at the decision's time, that carries it to the backend (with ``payload``)."""
        ...

    async def set_forward_state(
        self, decision_id: str, state: ForwardState, at: datetime, detail: str | None
    ) -> None: ...


class DeliveryRepo(Protocol):
    """The cards sent (or to send) for a request, each with its history."""

    async def insert(self, delivery: Delivery, job: str | None = None) -> None:
        """Store the delivery with its history; with ``job``, queue that outbox job on it (due
        at its creation) with it: one round trip where the engine can."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...
    async def state(self, delivery_id: str) -> DeliveryState | None:
        """The delivery's state alone (None: no such delivery): one row, without its history."""
        ...

    async def request_of(self, delivery_id: str) -> str | None:
        """The id of the delivery's request (None: no such delivery), without its history."""
        ...

    async def set_state(
        self,
        delivery_id: str,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
        *,
        reason: str | None = None,
        external_ref: str | None = None,
    ) -> None: ...
    async def on_channel(self, channel: str, state: DeliveryState) -> list[str]:
        """Ids of the channel's deliveries in ``state`` (those a revoke reroutes)."""
        ...


class OutboxRepo(Protocol):
    """The outbox: jobs committed with the change that implies them, leased to workers."""

    async def enqueue(
        self, kind: str, ref: str, run_at: datetime, payload: str = "{}", *, channel: str = ""
    ) -> None:
        """Queue a job; ``channel``: the one a card job goes to (its platform's lane claims it)."""
        ...

    async def enqueue_redraw(
        self, kind: str, ref: str, run_at: datetime, *, channel: str = ""
    ) -> None:
        """Queue a card's redraw unless one is already waiting unclaimed (it will draw the
        request as it is when it runs)."""
        ...

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
        """Lease up to ``limit`` due jobs to ``owner``; an expired lease is claimable again.

        Only jobs of ``kinds`` when given (one lane's claim), and of those only the ones queued
        for ``channels`` when given as well ('' names the jobs queued for no channel).
        """
        ...

    async def complete(self, job_id: int, owner: str) -> None: ...
    async def reschedule(self, job_id: int, owner: str, run_at: datetime, error: str) -> None: ...
    async def defer(self, job_id: int, owner: str, run_at: datetime) -> None:
        """Put a claimed job back until ``run_at`` without counting the attempt (nothing ran)."""
        ...

    async def bury(self, job_id: int, owner: str, error: str) -> None: ...
    async def release(self, owner: str) -> int:
        """Give up ``owner``'s leases on unfinished jobs (a shutdown): claimable at once."""
        ...

    async def wake_channel(self, channel: str, kinds: tuple[str, str], now: datetime) -> None:
        """Make the channel's pending jobs of ``kinds`` that wait past ``now`` due now."""
        ...

    async def cancel_steps(self, request_id: str, at: datetime) -> int:
        """Cancel the request's reminder and escalation steps still pending; how many."""
        ...

    async def of_request(self, request_id: str) -> list[RequestJob]:
        """The request's steps and its submitter's outcome notice, whatever became of them."""
        ...


class VoteRepo(Protocol):
    """The approvers' votes on multi-approver requests, one per (request, stage, account)."""

    async def add(self, request_id: str, vote: Vote) -> bool:
        """Store ``vote``; False (nothing stored) if this account already voted in that stage."""
        ...

    async def add_held(self, request_id: str, vote: Vote) -> None:
        """Store ``vote``, admitted against the votes read under the request's exclusive lock
        (``RequestRepo.for_vote``): no vote of the request can be stored meanwhile, so nothing
        is read back (the engine may send it with the unit's next statement); if the account
        had voted in that stage after all, the unit fails (StoreError)."""
        ...

    async def of_request(self, request_id: str) -> list[Vote]:
        """The request's votes in the order they came (including this unit's own)."""
        ...


class DelegationRepo(Protocol):
    """Delegations while away (:mod:`bot.core.delegation`), kept with who set them."""

    async def add(self, delegation: Delegation, at: datetime) -> None:
        """Store one (already checked: :func:`bot.core.delegation.check`)."""
        ...

    async def current(self, now: datetime) -> list[Delegation]:
        """Every delegation not ended at ``now`` (active or ahead), by approver and start."""
        ...

    async def clear(self, account_id: str, now: datetime) -> int:
        """Drop the approver's delegations not ended at ``now``; how many."""
        ...


StepMark = Literal["started", "done"]
"""A step's mark: its send may have gone out (``started``), or it ran and is recorded."""


class StepRepo(Protocol):
    """Marks of the reminder and escalation steps run, by their job's ref: a step re-run after
    a crash or by another replica is not sent twice (:mod:`bot.core.nudges`)."""

    async def start(self, ref: str, at: datetime) -> StepMark | None:
        """Mark the step ``started``; None when it had no mark, else the mark it has (kept)."""
        ...

    async def done(self, ref: str, at: datetime) -> None:
        """Mark the step ``done`` (recorded), whether or not it was started."""
        ...

    async def release(self, ref: str) -> None:
        """Forget a ``started`` mark: the send failed, nothing went out, a retry may send."""
        ...


RouteFacts = tuple[RoutePreference, dict[ChannelName, str]]
"""An account's route preference and its address on each channel it is bound on."""


@dataclass(frozen=True)
class Routes:
    """What routing a stage's cards reads, read together (:meth:`IdentityRepo.routes`): the
    delegations not ended at that moment, and the route facts of the stage's approvers and of
    everyone they delegate to, down the chains (an account with none: defaults, no bindings)."""

    delegations: tuple[Delegation, ...]
    facts: Mapping[str, RouteFacts]


class IdentityRepo(Protocol):
    """Who an account is on each channel, how it wants to be reached, and binding codes."""

    async def binding_address(self, account_id: str, channel: ChannelName) -> str | None: ...
    async def route_preference(self, account_id: str) -> RoutePreference:
        """The account's channel order and email subscription (defaults when it set none)."""
        ...

    async def route_facts(self, account_id: str) -> RouteFacts:
        """:meth:`route_preference` and the account's address on each channel it is bound on,
        read together (routing a card reads both: one round trip, not one per channel)."""
        ...

    async def routes(self, account_ids: Sequence[str], at: datetime) -> Routes:
        """The delegations not ended at ``at`` (as ``DelegationRepo.current``) and the route
        facts of ``account_ids`` and of everyone reached from them along those delegations, in
        one read: a stage's cards are routed from it, not from a read per approver."""
        ...

    async def binding_owner(self, channel: ChannelName, address: str) -> str | None: ...
    async def first_bound(
        self, channels: Sequence[ChannelName], per_channel: int
    ) -> dict[ChannelName, list[tuple[str, str]]]:
        """The first ``per_channel`` (account_id, address) bound on each of ``channels``, by
        account id, in one read (a card's hand-over candidates)."""
        ...

    async def set_binding(
        self,
        account_id: str,
        channel: ChannelName,
        address: str,
        by: str,
        method: str,
        at: datetime,
    ) -> None:
        """Bind (audited with the binding, naming the account and channel, not the address)."""
        ...

    async def put_code(
        self, code_hash: str, account_id: str, at: datetime, expires_at: datetime
    ) -> None: ...
    async def take_code(self, code_hash: str, now: datetime) -> str | None:
        """Use a code once: the account it was issued for, or None (unknown, used, expired)."""
        ...


class LedgerRepo(Protocol):
    """Usage metering and the audit trail, written with the change they describe."""

    async def meter(self, channel: str, account_id: str, kind: str, at: datetime) -> None:
        """Count one message (``sent`` or ``updated``) for the channel, account and UTC day."""
        ...

    async def audit(
        self, at: datetime, who: str, action: str, target: str, detail: str, source: str
    ) -> None:
        """Append an audit record."""
        ...


class UnitOfWork(Protocol):
    """One database transaction, opened by its caller and handed to whatever acts inside it:
    everything done through its repositories commits together, or none of it does.

    Nothing joins a unit implicitly: code that must commit with its caller's change takes the
    unit as an argument (``ApprovalService.submit(ticket, uow)``). Wake-ups wait for the
    commit: :meth:`on_commit` runs its callbacks once the unit is durable, never on rollback.
    """

    @property
    def answers(self) -> AnswerRepo: ...
    @property
    def requests(self) -> RequestRepo: ...
    @property
    def deliveries(self) -> DeliveryRepo: ...
    @property
    def outbox(self) -> OutboxRepo: ...
    @property
    def votes(self) -> VoteRepo: ...
    @property
    def delegations(self) -> DelegationRepo: ...
    @property
    def identities(self) -> IdentityRepo: ...
    @property
    def steps(self) -> StepRepo: ...
    @property
    def ledger(self) -> LedgerRepo: ...
    @property
    def credentials(self) -> CredentialRepo: ...
    # The operator repositories a signed write changes, bound to this unit.
    @property
    def bindings(self) -> BindingRepo: ...
    @property
    def preferences(self) -> PreferenceRepo: ...
    @property
    def emails(self) -> VerificationRepo: ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the unit commits (e.g. wake the outbox worker for its jobs)."""
        ...


class Store(Protocol):
    """The durable store, reached through units of work. ``unit()`` ones (read-write) are
    serialised; ``snapshot()`` ones (read-only, one consistent view) are not. Units do not
    nest: one opened while the same task holds a unit open is refused (StoreError), since it
    would neither see nor commit with the outer one; pass the outer unit down instead.

    ``urgent=True`` marks the few units a person is waiting on right now (a click's
    decision and its way to the backend): the store serves them before the ordinary work queued
    at that moment (card sends, their rate reservations, intake), however long that queue is.
    It changes when a unit runs, never what it guarantees: an urgent unit still returns
    only once it is durable.
    """

    def unit(self, *, urgent: bool = False) -> AbstractAsyncContextManager[UnitOfWork]: ...
    def snapshot(self, *, urgent: bool = False) -> AbstractAsyncContextManager[UnitOfWork]: ...


def within(
    store: Store, uow: UnitOfWork | None, *, urgent: bool = False
) -> AbstractAsyncContextManager[UnitOfWork]:
    """``uow`` when the caller passed one (what runs inside commits with the caller's change,
    and its on-commit callbacks wait for the caller's commit), else a unit of the store's own."""
    # nullcontext, not a generator-based manager: every signed submission passes its unit here.
    return nullcontext(uow) if uow is not None else store.unit(urgent=urgent)


# --------------------------------------------------------------------------- channels


class PendingEmail(Entity):
    """An address waiting for its confirmation code (the code itself is never kept)."""

    account_id: str
    address: str
    requested_by: str
    method: str
    expires_at: datetime


class VerificationRepo(Protocol):
    """Where pending email addresses wait for their code (``bot.store.preferences``)."""

    async def put(self, pending: PendingEmail, code_hash: str, at: datetime) -> None:
        """Keep ``pending`` with the hash of its code (replacing an earlier one)."""
        ...

    async def drop(self, account_id: str) -> None:
        """Forget the account's pending address."""
        ...

    async def pending(self, account_id: str, now: datetime) -> PendingEmail | None:
        """The account's address still waiting, if any."""
        ...

    async def confirm(self, account_id: str, code_hash: str, now: datetime) -> PendingEmail | None:
        """Bind the pending address when the code matches (counting a wrong guess); else None."""
        ...


class RequestJob(Entity):
    """A job of one request as its trace shows it: a step or the submitter's notice."""

    kind: str
    ref: str
    payload: dict[str, Any]
    state: str  # pending, done, cancelled or dead
    due: datetime
    done_at: datetime | None = None
    last_error: str | None = None


def notice_ref(request_id: str) -> str:
    """The outbox ref of the outcome notice to a request's submitter (one per request)."""
    return f"{request_id}/submitter"


class IdentityNotice(Entity):
    """A plain message owed to one chat identity, queued in the outbox with the change behind it."""

    channel: ChannelName
    address: str
    text: str


class InboundMessage(Entity):
    """A chat message someone wrote to the bot (used for ``bind CODE``)."""

    channel: ChannelName
    sender: str
    text: str
    source: str


class InboundSink(Protocol):
    """Where channels hand what arrives on their stream or callback."""

    async def action(self, action: InboundAction) -> ActionResult: ...
    async def answered(self, result: ActionResult, *, redrawn: bool, how: str = "") -> None:
        """Report what became of the click's answer once the platform took it, or did not.

        ``redrawn``: the clicker's card shows the outcome (the answer carried the card and the
        platform accepted it in time, or a delayed update went through). Otherwise the card is
        redrawn through the outbox at once.
        """
        ...

    async def message(self, message: InboundMessage) -> str | None:
        """Answer a chat message; the returned text is sent back to the sender."""
        ...


class CallbackGuard(Protocol):
    """Freshness and replay memory for platform callbacks that arrive over HTTP.

    One window decides both: a callback is accepted only if its timestamp is that close to now,
    and its key is remembered at least until such a timestamp could no longer be accepted.
    """

    def fresh(self, timestamp: float) -> None:
        """VerificationError unless ``timestamp`` (Unix seconds) is within the window."""
        ...

    async def take(self, key: str, timestamp: float | None = None) -> bool:
        """Remember ``key``; False when it was already taken (a replay)."""
        ...

    async def release(self, key: str) -> None:
        """Forget ``key`` after its handling failed, so the platform's retry is taken."""
        ...


class ChannelHealth(Entity):
    """Is the channel's stream up, and since when."""

    connected: bool
    detail: str = ""


class OutgoingCard(Entity):
    """A card to send or update: the delivery, and the request it shows."""

    delivery: Delivery
    request: StoredRequest
    # The addresses the card's hand-over picker offers (a channel with ``person_picker``),
    # see ``bot.core.roster.candidates``; empty: the card carries no picker.
    hand_over_to: tuple[str, ...] = ()


class SendReceipt(Entity):
    """What the platform answered: its id for the message, to update it later."""

    external_ref: str | None = None
    detail: str = ""
    sent: bool = True  # False when nothing went out (e.g. closing emails off): not metered


LookupKey = Literal["email", "mobile"]  # what a platform can find a user by


class ChannelCapabilities(Entity):
    """What a channel can do beyond cards and plain messages, declared once by its class.

    Callers read these flags instead of probing for methods: routing reads ``china_only``, the
    authorization API ``credential_check``, the binding lookup ``lookups``, email address
    confirmation ``notices``. The matching methods exist on every channel; where a flag is off
    they do nothing (``check``) or refuse (``lookup``, ``notify``).
    """

    china_only: bool = False  # reaches only approvers in China (an org on a Chinese platform)
    credential_check: bool = False  # ``check()`` proves credentials with the platform
    lookups: frozenset[LookupKey] = frozenset()  # ``lookup()`` finds users by these
    notices: bool = False  # ``notify()`` sends a plain message with a subject (email)
    # ``urge()`` raises the urgency of a card already sent, in these ways (Lark urgent_app,
    # DingTalk DING); where it is empty a reminder is a plain message (``tell``).
    urgency: frozenset[UrgencyKind] = frozenset()
    # A pending card offers its holder a person picker to hand the request over (Lark's
    # select_person); its candidates come with the card (``OutgoingCard.hand_over_to``).
    person_picker: bool = False


class Channel(Protocol):
    """A chat or mail platform: sends and updates cards, feeds clicks and messages back."""

    name: ChannelName
    kind: Literal["chat", "email"]
    capabilities: ChannelCapabilities

    @property
    def settings(self) -> BaseModel | None:
        """The settings group the channel was built from (None: it has none, e.g. in memory);
        an authorization's credentials are merged into it to build the channel anew."""
        ...

    async def check(self) -> None:
        """Prove the credentials work (ChannelError if refused); nothing without the capability."""
        ...

    async def lookup(self, key: LookupKey, value: str) -> str | None:
        """The platform's address of the user with this email or mobile (None: nobody in scope).

        ChannelError unless ``key`` is in ``capabilities.lookups``.
        """
        ...

    async def notify(self, to: str, subject: str, text: str) -> None:
        """A plain message with a subject that is no approval (e.g. a confirmation code).

        ChannelError unless ``capabilities.notices``.
        """
        ...

    async def start(self, sink: InboundSink) -> None:
        """Open the inbound stream (if any); returns once it is connecting."""
        ...

    async def stop(self) -> None:
        """Close the stream and release threads; nothing may be left running."""
        ...

    def health(self) -> ChannelHealth: ...

    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Deliver the card; raise ChannelError (retryable or not) on failure."""
        ...

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """Redraw an already delivered card to the request's current state."""
        ...

    async def tell(self, address: str, text: str) -> None:
        """A plain message to one identity, no card (e.g. "your binding moved"); ChannelError."""
        ...

    async def urge(self, address: str, external_ref: str, kind: UrgencyKind, text: str) -> None:
        """Raise the urgency of the card ``external_ref`` sent to ``address``, ``text`` where the
        platform shows one (ChannelError if refused; any ``kind`` not in ``capabilities.urgency``
        is)."""
        ...

    def default_address(self, approver: Approver) -> str | None:
        """An address that needs no binding (only sandbox channels have one)."""
        ...


# --------------------------------------------------------------------------- backend


class VoteRecord(Entity):
    """One vote as the decision webhook carries it (who, under which name, how, where, when)."""

    account_id: str
    display_name: str
    outcome: str  # approved / rejected
    comment: str | None
    channel: ChannelName
    at: datetime
    stage: int  # 0-based index of the stage it was cast in


class StageResult(Entity):
    """How one stage ended (``waiting``: not reached, as after an earlier stage's rejection)."""

    name: str  # "" for a request without stages
    rule: str  # any / all / quorum
    needed: int  # approvals it needed
    result: str  # approved / rejected / pending / waiting
    approved: int
    rejected: int


class DecisionEvent(Entity):
    """The webhook body the backend receives for a decision.

    ``approver``, ``comment`` and ``channel`` are the deciding vote's (the last one, that reached
    the outcome); ``votes`` is every vote in the order they came, ``stages`` each stage's end.
    """

    event_id: str
    type: Literal["approval.decision"] = "approval.decision"
    ticket_id: str
    decision: str
    approver: dict[str, str]
    channel: ChannelName
    comment: str | None
    decided_at: datetime
    votes: tuple[VoteRecord, ...] = ()
    stages: tuple[StageResult, ...] = ()
    # "approver": a vote on a card; "policy": the request's on_expiry at its deadline.
    decided_by: Literal["approver", "policy"] = "approver"


class VoteEvent(Entity):
    """The webhook body of one counted vote (sent only with ``backend_vote_events`` on).

    ``stages`` is the tally right after this vote (``pending`` while the stage waits); the
    decision, if this vote reached it, comes as its own ``approval.decision`` event.
    """

    event_id: str
    type: Literal["approval.vote"] = "approval.vote"
    ticket_id: str
    vote: VoteRecord
    stages: tuple[StageResult, ...]


StepSent = Literal["sms", "phone", "app", "message", "email", "nothing"]
"""What a reminder or escalation step sent: that urgency on the card, a plain message, an
email, or nothing (no email route)."""


class StepEvent(Entity):
    """The webhook body of one reminder or escalation step run (sent only with
    ``backend_step_events`` on): who was reminded, where, and what went out."""

    event_id: str
    type: Literal["approval.reminded", "approval.escalated"]
    ticket_id: str
    step: str  # as the trace names it: "reminder 2", "escalation 0", "reminder now"
    account_id: str
    display_name: str
    channel: ChannelName | None  # where it went (None: nothing was sent)
    sent: StepSent
    asked: UrgencyKind | None  # the urgency the request asked for
    detail: str  # the line in the request's trace
    at: datetime


BackendEvent = DecisionEvent | VoteEvent | StepEvent
"""What the gateway POSTs to the backend, told apart by ``type``."""


class BackendReceipt(Entity):
    """The backend took the decision (``already_decided`` when it answered 409)."""

    status: int
    already_decided: bool = False


class Backend(Protocol):
    """The ticket backend that receives decisions (and, when asked for, votes)."""

    async def deliver(self, event: BackendEvent) -> BackendReceipt:
        """POST the signed event; raise BackendError (retryable or not) if not taken."""
        ...


class Wakeup(Protocol):
    """Tells the outbox worker new jobs are waiting, so it need not wait for its poll."""

    def notify(self, *kinds: str) -> None:
        """Jobs of ``kinds`` were committed (none named: of any kind); only the lanes that take
        them look now, so a burst of submissions does not make the decision lane claim
        (urgently) for nothing on each one. A kind may name the channel its jobs were queued
        for, ``"<kind> <channel>"``: then only that channel's lane looks (a decision's Lark
        redraws do not make the DingTalk lane claim for nothing)."""
        ...


__all__ = [
    "AnswerRepo",
    "Backend",
    "BackendReceipt",
    "CallbackGuard",
    "Channel",
    "ChannelCapabilities",
    "ChannelHealth",
    "Clock",
    "DecisionEvent",
    "DeliveryRepo",
    "IdentityNotice",
    "IdentityRepo",
    "InboundMessage",
    "InboundSink",
    "LedgerRepo",
    "LookupKey",
    "OutboxRepo",
    "OutgoingCard",
    "PendingEmail",
    "RequestJob",
    "RequestRepo",
    "SendReceipt",
    "SignedAnswer",
    "StageResult",
    "StepEvent",
    "StepSent",
    "Store",
    "UnitOfWork",
    "VerificationRepo",
    "VoteRecord",
    "VoteRepo",
    "Wakeup",
    "notice_ref",
    "within",
]
