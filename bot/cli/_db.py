"""Running a CLI command against the configured database (the SQLite file, or PostgreSQL when
``APPROVAL_GATEWAY_DATABASE_URL`` is set).

Commands that read or change the store directly (traces, tokens, bindings, preferences, usage,
audit, key rotation) open the database themselves: they work while the gateway is stopped, and
whoever can read the data directory (or log in to the database) can read the store anyway.

This is the CLI's composition root for storage: the only CLI module that names the engine. The
commands get a :class:`Storage` of core ports and never an engine class.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias, TypeVar

if TYPE_CHECKING:
    from bot.cli._group import Command
    from bot.core.ports import Store
    from bot.core.storage import (
        AuditRepo,
        BindingRepo,
        PreferenceRepo,
        TokenRepo,
        UsageRepo,
    )
    from bot.settings.config import Settings
    from bot.store.engine import EngineStore

T = TypeVar("T")


class Storage:
    """The storage ports a command works through, on the configured database.

    Each port is made, and its adapter module imported, on first use: ``tokens list`` then
    loads none of the request, routing and preference models the other ports bring.
    """

    def __init__(self, engine: EngineStore) -> None:
        self._engine = engine
        # approvals, their trace and the sealed secrets, through units of work
        self.store: Store = engine

    @cached_property
    def bindings(self) -> BindingRepo:
        """Who is reachable where."""
        from bot.store.bindings import BindingStore

        return BindingStore(self._engine)

    @cached_property
    def preferences(self) -> PreferenceRepo:
        """Each account's channel preferences."""
        from bot.store.preferences import PreferenceStore

        return PreferenceStore(self._engine)

    @cached_property
    def tokens(self) -> TokenRepo:
        """The API tokens."""
        from bot.store.tokens import TokenStore

        return TokenStore(self._engine)

    @cached_property
    def audit(self) -> AuditRepo:
        """The audit log."""
        from bot.store.audit import AuditLog

        return AuditLog(self._engine)

    @cached_property
    def usage(self) -> UsageRepo:
        """Usage metering."""
        from bot.store.usage import UsageStore

        return UsageStore(self._engine)


StoreWork: TypeAlias = Callable[[argparse.Namespace, Storage], Awaitable[int]]
"""A command's body given open storage: the parsed arguments and the ports in, the exit status
out."""


def with_store(
    settings: Settings, work: Callable[[EngineStore], Awaitable[T]], *, create: bool = True
) -> T:
    """Open the database ``settings`` names, run ``work`` on it, close it; return its result.

    ``create=False`` for commands that only read: run from the wrong directory, they must say
    there is no database rather than leave an empty one behind.
    """
    import asyncio

    from bot.store.engine import make_store

    async def main() -> T:
        store = make_store(settings, one_shot=True)
        await store.open(create=create)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def storage(store: EngineStore) -> Storage:
    """The ports over one open store."""
    return Storage(store)


def with_storage(
    settings: Settings, work: Callable[[Storage], Awaitable[T]], *, create: bool = True
) -> T:
    """:func:`with_store`, handing ``work`` the ports instead of the engine."""
    return with_store(settings, lambda store: work(storage(store)), create=create)


def on_store(work: StoreWork, *, create: bool = True) -> Command:
    """``work`` as a command on the configured database (``create``: see :func:`with_store`)."""

    def command(args: argparse.Namespace) -> int:
        from bot.settings.config import load_settings

        return with_storage(load_settings(args.config), lambda s: work(args, s), create=create)

    return command


def migrate(settings: Settings) -> list[int]:
    """Open the database without migrating, then migrate it; the versions applied."""
    import asyncio

    from bot.store.engine import make_store

    async def main() -> list[int]:
        store = make_store(settings, one_shot=True)
        await store.open(migrate=False)
        try:
            return await store.migrate()
        finally:
            await store.close()

    return asyncio.run(main())


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
