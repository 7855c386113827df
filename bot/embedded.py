"""The embedded deployment: sandbox platforms and a sandbox backend, started in-process.

Used by ``serve`` when ``APPROVAL_GATEWAY_SANDBOX`` is on (the default) and by ``demo``. Platform
SDKs are imported only here and in their channels, never at CLI start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.channels.memory import MemoryChannel
from bot.config import Settings, ensure_backend_secret
from bot.core.ports import Channel
from bot.errors import ConfigError
from bot.runtime import Gateway
from bot.sandbox.backend import SandboxBackend


@dataclass
class Embedded:
    """A gateway wired to sandbox parts, and handles on those parts."""

    gateway: Gateway
    backend: SandboxBackend | None
    memory: MemoryChannel | None
    extras: list[object] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop the gateway, then the sandbox parts."""
        await self.gateway.stop()
        if self.backend is not None:
            await self.backend.stop()


async def start(settings: Settings) -> Embedded:
    """Start the gateway, with sandbox platforms and backend where the settings ask for them."""
    backend: SandboxBackend | None = None
    backend_url = settings.backend_url
    if backend_url is None:
        if not settings.sandbox:
            raise ConfigError("APPROVAL_GATEWAY_BACKEND_URL is required when the sandbox is off")
        backend = SandboxBackend(secret=ensure_backend_secret(settings))
        await backend.start()
        backend_url = backend.url
    channels: dict[str, Channel] = {}
    memory = None
    if settings.sandbox:
        memory = MemoryChannel()
        channels[memory.name] = memory
    gateway = Gateway(settings=settings, channels=channels, backend_url=backend_url)
    await gateway.start()
    if backend is not None:
        backend.gateway_url = gateway.url
    return Embedded(gateway=gateway, backend=backend, memory=memory)
