"""Composition root: settings in, a running gateway out.

This is the only module that knows every part: store, channels, service, worker, HTTP. The
store and the rate budgets come first, built before the channels that take those budgets
(``bot.app.storage``) and handed in as ``storage``. Start order is listening socket (bound, not
yet accepting) → store → channels → worker → HTTP; stop is the reverse, so nothing accepts work
that cannot be stored or handed on. Each step registers its undo as it succeeds, so a start that
fails part-way unwinds what it had started (no store, worker, stream or SDK thread is left
running), and ``async with Gateway(...)`` stops it in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from aiohttp import web

from bot import tracing
from bot.app.storage import Storage, make_storage
from bot.backend.webhook import WebhookBackend
from bot.channel_access import ChannelAccess
from bot.channel_access.credentials import ChannelCredentials
from bot.channels.base import callback_routes
from bot.channels.memory import MemoryChannel
from bot.channels.registry import REGISTRY, chat_platforms, configured_names
from bot.clock import SystemClock
from bot.core.directory import ChannelDirectory
from bot.core.emailverify import EmailVerification
from bot.core.inbound import InboundDispatch
from bot.core.jobs import JobRunner
from bot.core.lanes import lanes
from bot.core.limits import RateLimits
from bot.core.nudges import Nudging
from bot.core.ports import Clock
from bot.core.retry import RetryStrategy
from bot.core.route_planner import Router
from bot.core.selfbind import SelfBinding
from bot.core.service import ApprovalService
from bot.core.storage import BindingRepo
from bot.errors import Conflict, GatewayError
from bot.http.app import create_app
from bot.http.auth import Authenticator
from bot.http.channels import ACCESS
from bot.http.deadlines import DeadlineSite
from bot.http.deps import HttpDeps
from bot.http.health import READY_WITHOUT_CHANNELS, REPLICA
from bot.http.listen import bind, close
from bot.http.preview import CARD_LOOK, CardLook
from bot.http.signatures import RequestVerifier
from bot.logs import kv
from bot.metrics import Metrics
from bot.outbox.worker import OutboxWorker
from bot.secrets import SecretBox, open_box
from bot.settings.config import Settings, ensure_backend_secret
from bot.store.audit import AuditLog
from bot.store.authorizations import AuthorizationStore
from bot.store.bindings import BindingStore
from bot.store.engine import EngineStore
from bot.store.preferences import PreferenceStore, VerificationStore
from bot.store.probe import StoreProbe
from bot.store.replays import StoredCallbackGuard
from bot.store.tokens import TokenStore
from bot.store.usage import UsageStore

log = logging.getLogger("bot.app.runtime")

# How often each replica reads the channels' consents for changes made through another one. On
# SQLite nothing else can tell it (a read of a few rows); on PostgreSQL the change's NOTIFY
# wakes it at once and this only covers a NOTIFY missed while the LISTEN connection was down.
CONSENT_CHECK_SECONDS = 1.0
CONSENT_BACKSTOP_SECONDS = 10.0


class _LateWakeup:
    # The service needs a wakeup at construction; the worker that provides it comes later.
    def __init__(self) -> None:
        self.target: OutboxWorker | None = None

    def notify(self, *kinds: str) -> None:
        if self.target is not None:
            self.target.notify(*kinds)


async def relay_work(store: EngineStore, worker: OutboxWorker, poll: float) -> None:
    """Wake the idle worker whenever the store says work arrived (on PostgreSQL: a NOTIFY from
    any replica's enqueue or release), instead of it polling tightly: only the lanes of the
    kinds heard, so a submission does not make every replica's forwards lane claim."""
    while True:
        kinds = await store.wait_for_work(poll)
        if kinds is not None:
            worker.notify(*kinds)


async def follow_consents(store: EngineStore, access: ChannelAccess) -> None:
    """Apply the consent changes other processes make (authorize, revoke) to this one's
    channels: on their NOTIFY, else at each periodic check."""
    seconds = CONSENT_BACKSTOP_SECONDS if store.shared else CONSENT_CHECK_SECONDS
    while True:
        await store.wait_for_consents(seconds)
        try:
            await access.refresh()
        except GatewayError as exc:  # the store busy or down: the next check tries again
            log.warning("channel consents not checked", extra=kv(error=exc.message))


@dataclass
class Gateway:
    """A running gateway and handles on its parts (for the CLI, the demo and tests)."""

    settings: Settings
    # The channels to start with; once started, the channel access's read-only directory of
    # what runs now (authorize and revoke change it there).
    channels: ChannelDirectory
    backend_url: str
    clock: Clock = field(default_factory=SystemClock)
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    sockets: list[socket.socket] | None = None  # bound already (serve binds first of all)
    card_look: CardLook | None = None  # how /preview draws a chat card (the sandbox's phones)
    # The engine and the budgets ``channels`` were built with (None: the settings' own).
    storage: Storage | None = None
    store: EngineStore = field(init=False)
    bindings: BindingRepo = field(init=False)
    service: ApprovalService = field(init=False)
    worker: OutboxWorker = field(init=False)
    metrics: Metrics = field(init=False)
    selfbind: SelfBinding = field(init=False)
    box: SecretBox = field(init=False)
    access: ChannelAccess = field(init=False)
    url: str = field(init=False, default="")
    _backend: WebhookBackend = field(init=False)
    _runner: web.AppRunner | None = field(init=False, default=None)
    _worker_task: asyncio.Task[None] | None = field(init=False, default=None)
    _stack: contextlib.AsyncExitStack | None = field(init=False, default=None)
    _grace_ends: float | None = field(init=False, default=None)  # loop time, once stopping

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind, open the store, start channels, the worker and the HTTP listener.

        On any failure, what had started is stopped again before the error propagates.
        """
        stack = contextlib.AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        log.info("gateway started", extra=kv(url=self.url, channels=list(self.channels)))

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        secret = ensure_backend_secret(settings)
        sockets = self.sockets or bind(settings.host, settings.port)
        self.sockets = None  # ours now: closed on the way out
        stack.callback(close, sockets)
        storage = self.storage or make_storage(settings)
        self.store = storage.store
        await self.store.open()
        stack.push_async_callback(self.store.close)
        self.bindings = BindingStore(self.store)
        await self._open_access(storage.limits)
        self.channels = self.access.channels
        self.metrics = Metrics()
        tracing.setup()  # on when the OTEL_* variables ask for it and the otel extra is there
        wakeup = _LateWakeup()
        router = Router(
            self.channels, settings.channel_order, settings.china_regions, self.access.refusal
        )
        self.service = ApprovalService(
            self.store,
            self.clock,
            router,
            wakeup,
            settings.reminders.policy(),
            vote_events=settings.backend_vote_events,
        )
        self._backend = WebhookBackend(
            self.backend_url, secret, timeout=settings.backend_timeout_seconds
        )
        stack.push_async_callback(self._backend.close)
        self.worker = self._make_worker()
        wakeup.target = self.worker
        self.selfbind = SelfBinding(self.store, self.clock)
        sink = InboundDispatch(self.service, self.selfbind, self._count_click)
        # Registered before starting: a channel that fails to start must not leave its siblings.
        stack.push_async_callback(self._stop_channels)
        await self.access.start(sink, self.service, wakeup)
        # Registered after the channels' stop: it ends first, so no channel restarts on the way out.
        follower = asyncio.create_task(follow_consents(self.store, self.access), name="consents")
        stack.push_async_callback(_cancel, follower)
        self._worker_task = asyncio.create_task(self.worker.run(), name="outbox-worker")
        stack.push_async_callback(self._stop_worker)
        if self.store.shared:  # other processes enqueue too: their NOTIFY wakes this worker
            relay = asyncio.create_task(
                relay_work(self.store, self.worker, settings.outbox.poll_seconds), name="work-relay"
            )
            stack.push_async_callback(_cancel, relay)
        await self._serve(secret, sockets, stack)

    def _count_click(self, channel: str, status: str, seconds: float) -> None:
        self.metrics.click_answered(channel, status, seconds)

    async def _open_access(self, limits: RateLimits) -> None:
        # A wrong master key stops the start here, before any channel or listener is up.
        self.box = await open_box(self.settings, self.store, self.clock.now())
        credentials = ChannelCredentials(self.store, self.box)
        self.access = ChannelAccess(
            self.settings,
            AuthorizationStore(self.store),
            credentials,
            self.store,
            self.clock,
            self.channels,
            limits,
        )
        await self.access.load(self._system_consent())

    def _system_consent(self) -> set[str]:
        """Channels authorized by the system on first sight: sandbox stand-ins (which reach no
        real person and spend nothing) and in-memory channels. Real platforms need an admin."""
        names = {n for n, c in self.channels.items() if isinstance(c, MemoryChannel)}
        if self.settings.sandbox:
            real = configured_names(self.settings)
            names |= {n for n in self.channels if n not in real}
        return names

    def _make_worker(self) -> OutboxWorker:
        outbox = self.settings.outbox
        runner = JobRunner(
            self.store,
            self.clock,
            self.channels,
            self._backend,
            self.service,
            self.access.check_send,
            Nudging(paid=self.access.paid_urgency, events=self.settings.backend_step_events),
        )
        retry = RetryStrategy(
            base=outbox.backoff_base_seconds,
            cap=outbox.backoff_cap_seconds,
            give_up_after=timedelta(hours=outbox.give_up_after_hours),
        )
        return OutboxWorker(
            self.store,
            self.clock,
            runner,
            self.service,
            self.metrics,
            retry=retry,
            lease_seconds=outbox.lease_seconds,
            poll_seconds=outbox.poll_seconds,
            lanes=lanes(
                forwards=outbox.forward_concurrency,
                updates=outbox.update_concurrency,
                sends=outbox.send_concurrency,
                channels=tuple(REGISTRY),
                paced=chat_platforms(),
                platform_updates=outbox.platform_update_concurrency,
            ),
            expiry_sweep_seconds=outbox.expiry_sweep_seconds,
        )

    async def _serve(
        self, secret: str, sockets: list[socket.socket], stack: contextlib.AsyncExitStack
    ) -> None:
        window = timedelta(seconds=self.settings.signature_window_seconds)
        auth = Authenticator(RequestVerifier(secret, self.clock, window), TokenStore(self.store))
        deps = HttpDeps(
            service=self.service,
            selfbind=self.selfbind,
            auth=auth,
            store=self.store,
            bindings=self.bindings,
            preferences=PreferenceStore(self.store),
            audit=AuditLog(self.store),
            usage=UsageStore(self.store),
            health=StoreProbe(self.store),
            metrics=self.metrics,
            clock=self.clock,
            channels=self.channels,
            preview_open=self.settings.sandbox,
            kept_for=timedelta(hours=self.settings.idempotency_hours),
            box=self.box,
            timing=self.settings.reminders.policy(),
            emailverify=EmailVerification(VerificationStore(self.store), self.clock, self._mail),
            extra_routes=[*self.extra_routes, *self._channel_routes()],
        )
        limits = self.settings.http
        app = create_app(deps, body_timeout=limits.body_timeout_seconds)
        app[ACCESS] = self.access
        app[REPLICA] = self.worker.owner
        app[READY_WITHOUT_CHANNELS] = self.settings.ready_without_channels
        if self.card_look is not None:
            app[CARD_LOOK] = self.card_look
        # Requests still in flight at stop get the jobs' grace, not aiohttp's default 60 s: a
        # stop (a rolling restart) is bounded by one setting.
        grace = self.settings.outbox.shutdown_grace_seconds
        self._runner = runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=grace
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        for sock in sockets:
            site = DeadlineSite(
                runner,
                sock,
                head_timeout=limits.header_timeout_seconds,
                keepalive_timeout=limits.keepalive_timeout_seconds,
            )
            await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def _mail(self, to: str, subject: str, text: str) -> None:
        # Confirmation codes go out through the email channel, and only while it is authorized.
        channel = self.channels.get("email")
        if channel is None or not (
            channel.capabilities.notices and self.access.authorized("email")
        ):
            raise Conflict("no authorized email channel to send the confirmation through")
        await channel.notify(to, subject, text)

    def _channel_routes(self) -> list[web.RouteDef]:
        # Channels in HTTP callback mode serve their own callback URLs on the gateway's listener,
        # with one replay memory in the store for all of them.
        guard = StoredCallbackGuard(self.store, self.clock, self.settings.callback_window_seconds)
        routes: list[web.RouteDef] = []
        for channel in self.channels.values():
            routes.extend(callback_routes(channel, guard))
        return routes

    async def stop(self) -> None:
        """Stop accepting, finish in-flight jobs (within the grace period), close streams and the
        store (idempotent)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            # One grace period for the whole stop: what the HTTP requests in flight used of it
            # is not given to the jobs again, so the stop stays within serve's bound.
            grace = self.settings.outbox.shutdown_grace_seconds
            self._grace_ends = asyncio.get_running_loop().time() + grace
            await stack.aclose()
            log.info("gateway stopped")

    async def _stop_worker(self) -> None:
        # Jobs still running after the grace period are cancelled and their leases released, so
        # another process (or this one restarted) takes them at once, not after lease_seconds.
        task, self._worker_task = self._worker_task, None
        if task is None:
            return
        self.worker.stop()
        grace = self.settings.outbox.shutdown_grace_seconds
        if self._grace_ends is not None:
            grace = max(0.0, self._grace_ends - asyncio.get_running_loop().time())
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.warning("outbox jobs outlived the shutdown grace period", extra=kv(grace=grace))
            self.worker.abort()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _stop_channels(self) -> None:
        for channel in self.channels.values():
            await channel.stop()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
