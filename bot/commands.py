"""The CLI's commands. Each takes the parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket

from bot.cli._db import with_store
from bot.clock import SystemClock
from bot.config import Settings, ensure_backend_secret, load_settings, masked
from bot.errors import NotFound
from bot.store.sqlite import SqliteStore


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, then stop gracefully."""
    from bot import logs
    from bot.http.listen import bind

    settings = _settings(args)
    logs.setup(settings.log_level)
    # Before anything else, and before the platform SDKs are even imported: a port in use ends
    # the start here, with nothing to unwind.
    sockets = bind(settings.host, settings.port)
    asyncio.run(_serve(settings, sockets))
    return 0


async def _serve(settings: Settings, sockets: list[socket.socket]) -> None:
    from bot import embedded

    async with await embedded.start(settings, sockets) as running:
        secret = ensure_backend_secret(settings)
        print(f"approval gateway listening on {running.gateway.url}", flush=True)
        print(
            f"backend secret: {masked(secret)} (full value in {settings.data_dir}/backend_secret)"
            if settings.backend_secret is None
            else "backend secret: from settings",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def demo(args: argparse.Namespace) -> int:
    """The whole flow on sandbox platforms."""
    from bot import demo as demo_module

    return demo_module.main(args.keep, args.config)


def approvals(args: argparse.Namespace) -> int:
    """``approvals show TICKET``: the trace, read straight from the database."""
    from bot.http.schemas import ApprovalOut

    async def show(store: SqliteStore) -> str:
        async with store.read() as tx:
            request = await tx.find_request(args.ticket_id)
        if request is None:
            raise NotFound(f"no request for ticket {args.ticket_id}")
        return json.dumps(
            ApprovalOut.of(request).model_dump(mode="json"), indent=2, ensure_ascii=False
        )

    print(with_store(_settings(args), show, create=False))
    return 0


def db(args: argparse.Namespace) -> int:
    """``db migrate``."""
    settings = _settings(args)

    async def migrate() -> list[int]:
        store = SqliteStore(settings.db_path)
        await store.open(migrate=False)
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(migrate())
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def tokens(args: argparse.Namespace) -> int:
    """``tokens create|list|revoke``."""
    from bot.http.auth import new_token
    from bot.store.tokens import TokenStore

    clock = SystemClock()

    async def run(store: SqliteStore) -> None:
        repo = TokenStore(store)
        if args.tokens_command == "create":
            token = new_token()
            record = await repo.create(token, args.role, args.label, clock.now(), by=_who())
            print(f"token {record.id} ({record.role}) — shown once, store it now:\n{token}")
        elif args.tokens_command == "list":
            for item in await repo.list():
                state = f"revoked {item.revoked_at:%Y-%m-%d}" if item.revoked_at else "live"
                print(f"{item.id}  {item.role:<8} {state:<18} {item.label}")
        else:
            await repo.revoke(args.token_id, clock.now(), by=_who())
            print(f"token {args.token_id} revoked")

    # Listing only reads: it must not leave a new database behind in the wrong directory.
    with_store(_settings(args), run, create=args.tokens_command != "list")
    return 0


def _who() -> str:
    """``cli:<os user>``, for the audit log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
