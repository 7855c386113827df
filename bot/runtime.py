"""Composition root: settings in, a running gateway out.

This is the only module that knows every part: store, channels, service, worker, HTTP. Start
order is store → channels → worker → HTTP; stop is the reverse, so nothing accepts work that
cannot be stored or handed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from bot.backend import WebhookBackend
from bot.channel_access import ChannelAccess
from bot.channels.factory import configured_names
from bot.channels.memory import MemoryChannel
from bot.clock import SystemClock
from bot.config import Settings, ensure_backend_secret
from bot.core.emailverify import EmailVerification
from bot.core.jobs import JobRunner, lanes
from bot.core.models import ActionResult, InboundAction
from bot.core.ports import Channel, Clock, InboundMessage
from bot.core.retry import RetryStrategy
from bot.core.router import Router
from bot.core.selfbind import SelfBinding
from bot.core.service import ApprovalService
from bot.errors import Conflict
from bot.http.app import create_app
from bot.http.auth import Authenticator
from bot.http.channels import ACCESS
from bot.http.deps import HttpDeps
from bot.http.signatures import RequestVerifier
from bot.logs import kv
from bot.metrics import Metrics
from bot.outbox.worker import OutboxWorker
from bot.secrets import SecretBox, open_box
from bot.store.authorizations import AuthorizationStore
from bot.store.preferences import VerificationStore
from bot.store.replays import StoredCallbackGuard
from bot.store.sqlite import SqliteStore
from bot.store.tokens import TokenStore

log = logging.getLogger("bot.runtime")


class ServiceSink:
    """Hands what channels receive to the domain, counting clicks on the way."""

    def __init__(self, service: ApprovalService, metrics: Metrics, selfbind: SelfBinding) -> None:
        self._service = service
        self._metrics = metrics
        self._selfbind = selfbind

    async def action(self, action: InboundAction) -> ActionResult:
        """A click from any channel."""
        result = await self._service.handle_action(action)
        self._metrics.clicks.labels(channel=action.channel, status=result.status.value).inc()
        log.info(
            "click answered",
            extra=kv(channel=action.channel, status=result.status.value, source=action.source),
        )
        return result

    async def answered(self, result: ActionResult, *, redrawn: bool, how: str = "") -> None:
        """What became of a click's answer (see :meth:`ApprovalService.answered`)."""
        await self._service.answered(result, redrawn=redrawn, how=how)

    async def message(self, message: InboundMessage) -> str | None:
        """A chat message to the bot: ``bind CODE``, or a hint on how to bind."""
        return await self._selfbind.answer(message)


class _LateWakeup:
    # The service needs a wakeup at construction; the worker that provides it comes later.
    def __init__(self) -> None:
        self.target: OutboxWorker | None = None

    def notify(self) -> None:
        if self.target is not None:
            self.target.notify()


@dataclass
class Gateway:
    """A running gateway and handles on its parts (for the CLI, the demo and tests)."""

    settings: Settings
    channels: dict[str, Channel]
    backend_url: str
    clock: Clock = field(default_factory=SystemClock)
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    store: SqliteStore = field(init=False)
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

    async def start(self) -> None:
        """Open the store, start channels, the worker and the HTTP listener."""
        settings = self.settings
        secret = ensure_backend_secret(settings)
        self.store = SqliteStore(settings.db_path)
        await self.store.open()
        try:
            await self._open_access()
        except BaseException:
            await self.store.close()
            raise
        self.metrics = Metrics()
        wakeup = _LateWakeup()
        router = Router(
            self.channels, settings.channel_order, settings.china_regions, self.access.refusal
        )
        self.service = ApprovalService(self.store, self.clock, router, wakeup)
        self._backend = WebhookBackend(
            self.backend_url, secret, timeout=settings.backend_timeout_seconds
        )
        self.worker = self._make_worker()
        wakeup.target = self.worker
        self.selfbind = SelfBinding(self.store, self.clock)
        sink = ServiceSink(self.service, self.metrics, self.selfbind)
        await self.access.start(sink, self.service, wakeup)
        self._worker_task = asyncio.create_task(self.worker.run(), name="outbox-worker")
        await self._serve(secret)
        log.info("gateway started", extra=kv(url=self.url, channels=list(self.channels)))

    async def _open_access(self) -> None:
        # A wrong master key stops the start here, before any channel or listener is up.
        self.box = await open_box(self.settings, self.store, self.clock.now())
        repo = AuthorizationStore(self.store, self.box)
        self.access = ChannelAccess(self.settings, repo, self.store, self.clock, self.channels)
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
            ),
            expiry_sweep_seconds=outbox.expiry_sweep_seconds,
        )

    async def _serve(self, secret: str) -> None:
        window = timedelta(seconds=self.settings.signature_window_seconds)
        auth = Authenticator(RequestVerifier(secret, self.clock, window), TokenStore(self.store))
        deps = HttpDeps(
            service=self.service,
            selfbind=self.selfbind,
            auth=auth,
            store=self.store,
            metrics=self.metrics,
            clock=self.clock,
            channels=self.channels,
            preview_open=self.settings.sandbox,
            kept_for=timedelta(hours=self.settings.idempotency_hours),
            emailverify=EmailVerification(VerificationStore(self.store), self.clock, self._mail),
            extra_routes=[*self.extra_routes, *self._channel_routes()],
        )
        app = create_app(deps)
        app[ACCESS] = self.access
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _mail(self, to: str, subject: str, text: str) -> None:
        # Confirmation codes go out through the email channel, and only while it is authorized.
        channel = self.channels.get("email")
        send = getattr(channel, "send_notice", None)
        if send is None or not self.access.authorized("email"):
            raise Conflict("no authorized email channel to send the confirmation through")
        await send(to, subject, text)

    def _channel_routes(self) -> list[web.RouteDef]:
        # Channels in HTTP callback mode serve their own callback URLs on the gateway's listener,
        # with one replay memory in the store for all of them.
        guard = StoredCallbackGuard(self.store, self.clock, self.settings.callback_window_seconds)
        routes: list[web.RouteDef] = []
        for channel in self.channels.values():
            provider = getattr(channel, "routes", None)
            if callable(provider):
                routes.extend(provider(guard))
        return routes

    async def stop(self) -> None:
        """Stop accepting, finish in-flight jobs, close streams and the store."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._worker_task is not None:
            self.worker.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
            self._worker_task = None
        for channel in self.channels.values():
            await channel.stop()
        await self._backend.close()
        await self.store.close()
        log.info("gateway stopped")
