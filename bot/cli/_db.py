"""Running a CLI command against the configured database file.

Commands that read or change the store directly (traces, tokens, bindings, preferences, usage,
audit, key rotation) open the SQLite file themselves: they work while the gateway is stopped, and
whoever can read the data directory can read the store anyway.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypeVar

if TYPE_CHECKING:
    from bot.cli._group import Command
    from bot.config import Settings
    from bot.store.sqlite import SqliteStore

T = TypeVar("T")

StoreWork: TypeAlias = Callable[[argparse.Namespace, "SqliteStore"], Awaitable[int]]
"""A command's body given an open store: the parsed arguments and the store in, the exit status
out."""


def with_store(
    settings: Settings, work: Callable[[SqliteStore], Awaitable[T]], *, create: bool = True
) -> T:
    """Open the database ``settings`` names, run ``work`` on it, close it; return its result.

    ``create=False`` for commands that only read: run from the wrong directory, they must say
    there is no database rather than leave an empty one behind.
    """
    import asyncio

    from bot.store.sqlite import SqliteStore

    async def main() -> T:
        store = SqliteStore(settings.db_path)
        await store.open(create=create)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def on_store(work: StoreWork, *, create: bool = True) -> Command:
    """``work`` as a command on the configured database (``create``: see :func:`with_store`)."""

    def command(args: argparse.Namespace) -> int:
        from bot.config import load_settings

        return with_store(
            load_settings(args.config), lambda store: work(args, store), create=create
        )

    return command


def who() -> str:
    """``cli:<os user>``, for the audit log: who did it, as far as the command line can tell."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def now() -> datetime:
    """The time of a change made from the command line."""
    from bot.clock import SystemClock

    return SystemClock().now()
