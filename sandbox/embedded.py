"""The embedded deployment: sandbox platforms and a sandbox backend, started in-process.

Used by ``serve`` when ``APPROVAL_GATEWAY_SANDBOX`` is on (the default; ``bot.app.launch`` loads this
module by name, since the product never imports the sandbox) and by ``demo``. Each platform
module is imported only when it is switched on, because the platform SDKs take seconds to
import and the CLI must stay quick.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.app.launch import Additions, Launched, start_gateway
from bot.app.storage import make_storage
from bot.channels.memory import MemoryChannel
from bot.core.ports import Channel, Clock
from bot.errors import ConfigError
from bot.http.listen import close
from bot.settings.config import Settings, ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.mail.page import MailPage
from sandbox.phone.look import PhoneLook
from sandbox.phone.page import Phones
from sandbox.platform import SandboxPlatform, Seat

# name -> "module:class"; a platform lands here when its channel does.
PLATFORMS: dict[str, str] = {
    "memory": "sandbox.memory:MemoryPlatform",
    "mail": "sandbox.mail.platform:MailPlatform",
    "dingtalk": "sandbox.dingtalk.platform:DingTalkPlatform",
    "lark": "sandbox.lark.platform:LarkPlatform",
}
NAMES = ["Li Na", "Wang Wei", "Zhang Min", "Liu Yang", "Chen Jing", "Zhao Lei"]


def sandbox_users(channels: Iterable[str]) -> list[tuple[str, str, str]]:
    """The sandbox users, ``(channel, account id, display name)``: one per channel, account
    ``2001`` on the first, ``2002`` on the next... The demo binds these; ``serve`` seats them."""
    return [(channel, f"20{i:02d}", NAMES[i % len(NAMES)]) for i, channel in enumerate(channels, 1)]


def load_platform(name: str) -> SandboxPlatform:
    """Instantiate a sandbox platform by name (imports its SDK only now)."""
    if name not in PLATFORMS:
        raise ConfigError(f"unknown sandbox platform {name!r}; known: {', '.join(PLATFORMS)}")
    module, _, cls = PLATFORMS[name].partition(":")
    platform: SandboxPlatform = getattr(importlib.import_module(module), cls)()
    return platform


@dataclass(kw_only=True)
class Embedded(Launched):
    """A gateway wired to sandbox parts, and handles on those parts."""

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
        await self.gateway.bindings.set(
            account_id,
            channel,
            seat.address,
            by="sandbox",
            method="sandbox",
            at=self.gateway.clock.now(),
        )
        _keep(self.seats, seat)
        return seat


def _keep(seats: list[Seat], seat: Seat) -> None:
    """Add ``seat``, replacing one with the same address on its channel (seated again)."""
    same = [
        i for i, s in enumerate(seats) if (s.channel, s.address) == (seat.channel, seat.address)
    ]
    if same:
        seats[same[0]] = seat
    else:
        seats.append(seat)


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
    backend = await _backend(settings, stack)
    platforms = [load_platform(n) for n in settings.sandbox_platforms] if settings.sandbox else []
    phones = Phones(platforms)  # served only with the sandbox on, i.e. never with real users
    # Built before the platforms' channels, which take its budgets: the sandbox's channels
    # draw on the database's like the configured ones (RATE_LIMITS), not budgets of their own.
    storage = make_storage(settings)
    channels: dict[str, Channel] = {}
    for platform in platforms:
        stack.callback(platform.stop)
        platform.start(settings, storage.limits)
        channels.update(platform.channels())
    additions = Additions(
        channels=channels,
        routes=[*phones.routes(), *MailPage(platforms).routes()] if settings.sandbox else [],
        backend_url=backend.url if backend is not None else None,
        card_look=PhoneLook() if settings.sandbox else None,
    )
    gateway = await start_gateway(
        settings, stack, storage, sockets=sockets, clock=clock, additions=additions
    )
    if backend is not None:
        backend.gateway_url = gateway.url
    _seat_users(platforms, gateway.channels, phones.seats)
    return Embedded(
        gateway=gateway,
        backend=backend,
        platforms=platforms,
        seats=phones.seats,
        _stack=stack,
    )


def _seat_users(
    platforms: list[SandboxPlatform], channels: Iterable[str], seats: list[Seat]
) -> None:
    # The platforms know these users from the start, so support can bind an account to one
    # (``ou_2002`` on Lark, ``staff2001`` on DingTalk) and watch its phone; nothing is bound.
    for channel, account_id, name in sandbox_users(channels):
        platform = next((p for p in platforms if channel in p.channels()), None)
        if platform is not None:
            _keep(seats, platform.seat(channel, account_id, name))


async def _backend(settings: Settings, stack: contextlib.AsyncExitStack) -> SandboxBackend | None:
    """The sandbox backend, unless the settings name a real one."""
    if settings.backend_url is not None:
        return None
    if not settings.sandbox:
        raise ConfigError("APPROVAL_GATEWAY_BACKEND_URL is required when the sandbox is off")
    backend = SandboxBackend(secret=ensure_backend_secret(settings))
    await backend.start()
    stack.push_async_callback(backend.stop)
    return backend
