"""Start a gateway from settings: the configured channels, and the sandbox when it is on.

The sandbox (stand-in platforms, a stand-in ticket backend, the sandbox phones) is its own
top-level package, shipped with the development install and not in the production wheel. The
product never imports it: with ``APPROVAL_GATEWAY_SANDBOX`` on (the embedded default),
:func:`start` loads the module named :data:`SANDBOX_PACKAGE` ``.embedded`` by name, and the
sandbox comes back through :func:`start_gateway` with what it adds (channels, HTTP routes, a
backend URL, the phone look of ``/preview``'s cards) as an :class:`Additions`, the way a channel
contributes its routes. Whoever starts the gateway builds its :class:`~bot.app.storage.Storage`
first, since every channel, configured or the sandbox's, takes its rate budgets when built.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Protocol, Self, cast

from aiohttp import web

from bot.app.runtime import Gateway
from bot.app.storage import Storage, make_storage
from bot.channels.registry import configured_channels
from bot.clock import SystemClock
from bot.core.ports import Channel, Clock
from bot.errors import ConfigError
from bot.http.listen import close
from bot.http.preview import CardLook
from bot.settings.config import Settings

SANDBOX_PACKAGE = "sandbox"
MISSING = (
    "APPROVAL_GATEWAY_SANDBOX is on but the sandbox package is not installed (it comes with "
    "the development install, not the production wheel); set APPROVAL_GATEWAY_SANDBOX=false "
    "and configure channels and APPROVAL_GATEWAY_BACKEND_URL"
)


@dataclass(frozen=True)
class Additions:
    """What a part started beside the gateway adds to it.

    ``channels`` never shadow a configured (real) channel of the same name; ``backend_url`` is
    used only when the settings name none; ``card_look`` draws ``/preview``'s chat cards.
    """

    channels: Mapping[str, Channel] = field(default_factory=dict)
    routes: list[web.RouteDef] = field(default_factory=list)
    backend_url: str | None = None
    card_look: CardLook | None = None


@dataclass(kw_only=True)
class Launched:
    """A started gateway and whatever was started beside it; stopping it stops them all."""

    gateway: Gateway
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the gateway, then the parts started before it (idempotent)."""
        await self._stack.aclose()


class Starter(Protocol):
    """The sandbox's entry point: start the gateway with the sandbox parts beside it."""

    def __call__(
        self, settings: Settings, sockets: list[socket.socket] | None, clock: Clock | None
    ) -> Awaitable[Launched]: ...


async def start(
    settings: Settings,
    sockets: list[socket.socket] | None = None,
    clock: Clock | None = None,
) -> Launched:
    """Start the gateway the settings describe (``serve``).

    ``sockets``: already bound for the listener (see ``bot.http.listen``); ``clock``: the
    gateway's. A failure part-way stops whatever had started before it propagates.
    """
    if settings.sandbox:
        try:
            starter = cast(Starter, sandbox_module("embedded").start)
        except ConfigError:
            close(sockets or [])
            raise
        return await starter(settings, sockets, clock)
    stack = contextlib.AsyncExitStack()
    if sockets is not None:
        stack.callback(close, sockets)  # until the gateway takes them over
    try:
        storage = make_storage(settings)
        gateway = await start_gateway(settings, stack, storage, sockets=sockets, clock=clock)
    except BaseException:
        await stack.aclose()
        raise
    return Launched(gateway=gateway, _stack=stack)


async def start_gateway(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    storage: Storage,
    *,
    sockets: list[socket.socket] | None = None,
    clock: Clock | None = None,
    additions: Additions | None = None,
) -> Gateway:
    """Start a gateway on ``storage``, the configured channels plus ``additions``; ``stack``
    stops it. Every channel paces its calls on ``storage.limits`` (the additions' too: their
    caller built them with it).

    The caller owns ``sockets`` until the gateway has started (it closes them on a failure).
    """
    extra = additions or Additions()
    backend_url = settings.backend_url or extra.backend_url
    if backend_url is None:
        raise ConfigError("APPROVAL_GATEWAY_BACKEND_URL is required when the sandbox is off")
    channels: dict[str, Channel] = configured_channels(settings, storage.limits)
    for name, channel in extra.channels.items():
        channels.setdefault(name, channel)  # a sandbox platform never shadows a real platform
    if not channels:
        raise ConfigError("no channel is configured (and the sandbox is off)")
    gateway = Gateway(
        settings=settings,
        channels=channels,
        backend_url=backend_url,
        extra_routes=list(extra.routes),
        card_look=extra.card_look,
        sockets=sockets,
        clock=clock or SystemClock(),
        storage=storage,
    )
    await gateway.start()
    stack.push_async_callback(gateway.stop)
    return gateway


def sandbox_module(name: str) -> ModuleType:
    """``sandbox.<name>``, or a ConfigError in one line when the sandbox is not installed."""
    try:
        return importlib.import_module(f"{SANDBOX_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.partition(".")[0] == SANDBOX_PACKAGE:
            raise ConfigError(MISSING) from None
        # The sandbox is there but one of its own dependencies (the dev extra) is not.
        raise ConfigError(f"the sandbox cannot load: {exc} (install the dev extra)") from None


def demo(keep: bool, config: Path | None) -> int:
    """``approval-gateway demo``: the whole flow on the sandbox platforms."""
    main = sandbox_module("demo").main
    return cast(int, main(keep, config))
