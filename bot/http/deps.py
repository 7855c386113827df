"""What the HTTP handlers need, handed over by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from bot.core.emailverify import EmailVerification
from bot.core.ports import Channel, Clock
from bot.core.selfbind import SelfBinding
from bot.core.service import ApprovalService
from bot.http.auth import Authenticator
from bot.metrics import Metrics
from bot.secrets import SecretBox
from bot.store.sqlite import SqliteStore


@dataclass
class HttpDeps:
    """Services behind the routes."""

    service: ApprovalService
    selfbind: SelfBinding
    auth: Authenticator
    store: SqliteStore
    metrics: Metrics
    clock: Clock
    channels: Mapping[str, Channel]
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    emailverify: EmailVerification | None = None  # None: email addresses cannot be confirmed
    preview_open: bool = False  # /preview without a token: the embedded sandbox default
    kept_for: timedelta = timedelta(hours=24)  # answers to signed writes, for resends
    box: SecretBox | None = None  # seals kept answers (a binding code is a secret)


DEPS = web.AppKey("deps", HttpDeps)
