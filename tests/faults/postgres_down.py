"""PostgreSQL faults for tests: a database that refuses new sessions, and the sessions of a
database (or of one application) ended as ``pg_terminate_backend`` ends them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.store.engines import URL


def database_of(url: str) -> str:
    """The database name a URL points at."""
    return url.partition("?")[0].rsplit("/", 1)[1]


async def terminate(*, database: str | None = None, application_name: str | None = None) -> int:
    """End every session of ``database`` or of ``application_name`` (pool and LISTEN alike);
    how many there were."""
    column, value = ("datname", database) if database else ("application_name", application_name)
    admin = await asyncpg.connect(URL, timeout=5)
    try:
        ended = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE {column} = $1 AND pid <> pg_backend_pid()",
            value,
        )
    finally:
        await admin.close()
    return len(ended)


@asynccontextmanager
async def refusing(url: str) -> AsyncIterator[None]:
    """The database at ``url`` refuses new sessions meanwhile (as while a server restarts);
    the sessions already open go on."""
    name = database_of(url)
    admin = await asyncpg.connect(URL, timeout=5)  # on another database: PostgreSQL wants so
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


@asynccontextmanager
async def database_down(url: str) -> AsyncIterator[None]:
    """Every session of the database at ``url`` ended, and no new one taken, meanwhile."""
    async with refusing(url):
        await terminate(database=database_of(url))
        yield
