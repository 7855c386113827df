"""``approval-gateway serve``: run the gateway until SIGINT/SIGTERM, then stop gracefully."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    import socket

    from bot.cli._group import Subparsers
    from bot.settings.config import Settings


def add_commands(subparsers: Subparsers) -> None:
    """Register ``serve``."""
    serve = subparsers.add_parser(
        "serve", help="run the gateway (embedded defaults unless configured)"
    )
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Bind the listen address, then serve until a stop signal."""
    import asyncio

    from bot import logs
    from bot.http.listen import bind
    from bot.settings.config import load_settings

    settings = load_settings(args.config)
    logs.setup(settings.log_level)
    # Before anything else, and before the platform SDKs are even imported: a port in use ends
    # the start here, with nothing to unwind.
    sockets = bind(settings.host, settings.port)
    asyncio.run(_serve(settings, sockets))
    return 0


async def _serve(settings: Settings, sockets: list[socket.socket]) -> None:
    import asyncio

    from bot.app import launch, stopping

    running = await launch.start(settings, sockets)
    try:
        stopping.dump_on_signal(asyncio.get_running_loop())
        stop = _stop_signal()  # before the announcement: a SIGTERM right after it is a stop
        _announce(settings, running.gateway.url)
        await stop.wait()
    finally:
        # A stop that does not end (a task that ignores its cancellation, a stream that will
        # not close) must not keep a rolling restart waiting: past the bound, exit anyway.
        bound = settings.outbox.shutdown_grace_seconds + stopping.STOP_MARGIN_SECONDS
        async with stopping.StopBound(bound):
            await running.stop()


def _announce(settings: Settings, url: str) -> None:
    from bot.settings.config import ensure_backend_secret, masked

    secret = ensure_backend_secret(settings)
    print(f"approval gateway listening on {url}", flush=True)
    print(
        f"backend secret: {masked(secret)} (full value in {settings.data_dir}/backend_secret)"
        if settings.backend_secret is None
        else "backend secret: from settings",
        flush=True,
    )


def _stop_signal() -> asyncio.Event:
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
