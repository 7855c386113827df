"""Running a CLI command against the configured database file.

Commands that read or change the store directly (traces, tokens, bindings, preferences, usage,
audit, key rotation) open the SQLite file themselves: they work while the gateway is stopped, and
whoever can read the data directory can read the store anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.store.sqlite import SqliteStore

T = TypeVar("T")


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
