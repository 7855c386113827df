"""The embedded deployment: sandbox platforms and a sandbox backend, started in-process.

Used by ``serve`` when ``APPROVAL_GATEWAY_SANDBOX`` is on (the default) and by ``demo``. Each
platform module is imported only when it is switched on, because the platform SDKs take seconds
to import and the CLI must stay quick.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
from dataclasses import dataclass, field
from types import TracebackType

from bot.channels.factory import configured_channels
from bot.channels.memory import MemoryChannel
from bot.clock import SystemClock
from bot.config import Settings, ensure_backend_secret
from bot.core.ports import Channel, Clock
from bot.errors import ConfigError
from bot.http.listen import close
from bot.http.phone import Phones
from bot.runtime import Gateway
from bot.sandbox.backend import SandboxBackend
from bot.sandbox.platform import SandboxPlatform, Seat
from bot.store.bindings import BindingStore

# name -> "module:class"; a platform lands here when its channel does.
PLATFORMS: dict[str, str] = {
    "memory": "bot.sandbox.memory:MemoryPlatform",
    "mail": "bot.sandbox.mail_platform:MailPlatform",
    "dingtalk": "bot.sandbox.dingtalk_platform:DingTalkPlatform",
    "lark": "bot.sandbox.lark_platform:LarkPlatform",
}


def load_platform(name: str) -> SandboxPlatform:
    """Instantiate a sandbox platform by name (imports its SDK only now)."""
    if name not in PLATFORMS:
        raise ConfigError(f"unknown sandbox platform {name!r}; known: {', '.join(PLATFORMS)}")
    module, _, cls = PLATFORMS[name].partition(":")
    platform: SandboxPlatform = getattr(importlib.import_module(module), cls)()
    return platform


@dataclass
class Embedded:
    """A gateway wired to sandbox parts, and handles on those parts."""

    gateway: Gateway
    backend: SandboxBackend | None
    platforms: list[SandboxPlatform] = field(default_factory=list)
    seats: list[Seat] = field(default_factory=list)  # shared with the sandbox phones

    @property
    def memory(self) -> MemoryChannel | None:
        """The in-memory channel, when the memory platform runs."""
        channel = self.gateway.channels.get("memory")
        return channel if isinstance(channel, MemoryChannel) else None

    def platform_of(self, channel: str) -> SandboxPlatform:
        """The platform serving ``channel``."""
        return next(p for p in self.platforms if channel in p.channels())

    async def seat(self, channel: str, account_id: str, display_name: str) -> Seat:
        """A sandbox user for an approver on ``channel``, bound to the account."""
        seat = self.platform_of(channel).seat(channel, account_id, display_name)
        await BindingStore(self.gateway.store).set(
            account_id,
            channel,
            seat.address,
            by="sandbox",
            method="sandbox",
            at=self.gateway.clock.now(),
        )
        self.seats.append(seat)
        return seat

    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> Embedded:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the gateway, then the sandbox parts (idempotent)."""
        await self._stack.aclose()


async def start(
    settings: Settings,
    sockets: list[socket.socket] | None = None,
    clock: Clock | None = None,
) -> Embedded:
    """Start the gateway, with sandbox platforms and backend where the settings ask for them.

    ``sockets``: already bound for the listener (see ``bot.http.listen``); ``clock``: the
    gateway's, for tests that move time. A failure part-way
    stops whatever had started before it propagates.
    """
    stack = contextlib.AsyncExitStack()
    try:
        return await _start(settings, sockets, clock, stack)
    except BaseException:
        await stack.aclose()
        raise


async def _start(
    settings: Settings,
    sockets: list[socket.socket] | None,
    clock: Clock | None,
    stack: contextlib.AsyncExitStack,
) -> Embedded:
    if sockets is not None:
        stack.callback(close, sockets)  # until the gateway takes them over
    backend, backend_url = await _backend(settings, stack)
    platforms = [load_platform(n) for n in settings.sandbox_platforms] if settings.sandbox else []
    # Configured (real) channels first; a sandbox platform never shadows a real platform.
    channels: dict[str, Channel] = configured_channels(settings)
    phones = Phones(platforms)  # served only with the sandbox on, i.e. never with real users
    routes = phones.routes() if settings.sandbox else []
    for platform in platforms:
        stack.callback(platform.stop)
        platform.start(settings)
        for name, channel in platform.channels().items():
            channels.setdefault(name, channel)
    if not channels:
        raise ConfigError("no channel is configured (and the sandbox is off)")
    gateway = Gateway(
        settings=settings,
        channels=channels,
        backend_url=backend_url,
        extra_routes=routes,
        sockets=sockets,
        clock=clock or SystemClock(),
    )
    await gateway.start()
    stack.push_async_callback(gateway.stop)
    if backend is not None:
        backend.gateway_url = gateway.url
    return Embedded(
        gateway=gateway,
        backend=backend,
        platforms=platforms,
        seats=phones.seats,
        _stack=stack,
    )


async def _backend(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> tuple[SandboxBackend | None, str]:
    if settings.backend_url is not None:
        return None, settings.backend_url
    if not settings.sandbox:
        raise ConfigError("APPROVAL_GATEWAY_BACKEND_URL is required when the sandbox is off")
    backend = SandboxBackend(secret=ensure_backend_secret(settings))
    await backend.start()
    stack.push_async_callback(backend.stop)
    return backend, backend.url
