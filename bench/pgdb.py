"""A PostgreSQL database of the run's own: created before the gateways start, dropped after.

The URL given on the command line names a server and a database to connect to for that (the
``test`` database, say); nothing is written there. Each run's database is ``bench_<pid>``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

SQL = Path(__file__).with_name("sql")


def statement(name: str) -> str:
    """A named statement of ``bench/sql/<name>.sql`` (the bench's own SQL lives there)."""
    return (SQL / f"{name}.sql").read_text(encoding="utf-8")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (query string kept)."""
    base, _, query = url.partition("?")
    server = base.rsplit("/", 1)[0]
    return f"{server}/{name}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def own_database(url: str) -> AsyncIterator[str]:
    """Create ``bench_<pid>`` on the server of ``url``; its URL; dropped on the way out."""
    name = f"bench_{os.getpid()}"
    admin = await asyncpg.connect(url)
    try:
        # Identifiers cannot be bound parameters; ``name`` is made here from digits only.
        await admin.execute(statement("drop_database").format(name=name))
        await admin.execute(statement("create_database").format(name=name))
    finally:
        await admin.close()
    try:
        yield with_database(url, name)
    finally:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(statement("drop_database").format(name=name))
        finally:
            await admin.close()
