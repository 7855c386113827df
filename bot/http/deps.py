"""What the HTTP handlers need, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from bot.core.directory import ChannelDirectory
from bot.core.emailverify import EmailVerification
from bot.core.ports import Clock, Store
from bot.core.selfbind import SelfBinding
from bot.core.service import ApprovalService
from bot.core.storage import AuditRepo, BindingRepo, PreferenceRepo, StoreHealth, UsageRepo
from bot.core.timing.policy import TimingPolicy
from bot.http.auth import Authenticator
from bot.metrics import Metrics
from bot.secrets import SecretBox


@dataclass
class HttpDeps:
    """Services and storage ports behind the routes, built once by the composition root.

    Handlers reach storage only through the repositories; ``store`` is there for the one
    transaction ``bot.http.once`` wraps around a signed write (its answer is kept with it).
    """

    service: ApprovalService
    selfbind: SelfBinding
    auth: Authenticator
    store: Store
    bindings: BindingRepo
    preferences: PreferenceRepo
    audit: AuditRepo
    usage: UsageRepo
    health: StoreHealth
    metrics: Metrics
    clock: Clock
    channels: ChannelDirectory  # read-only: the channel access changes what runs
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    emailverify: EmailVerification | None = None  # None: email addresses cannot be confirmed
    preview_open: bool = False  # /preview without a token: the embedded sandbox default
    kept_for: timedelta = timedelta(hours=24)  # answers to signed writes, for resends
    box: SecretBox | None = None  # seals kept answers (a binding code is a secret)
    timing: TimingPolicy = field(default_factory=TimingPolicy)  # reminder defaults, auto-approve


DEPS = web.AppKey("deps", HttpDeps)
