"""The engines the storage tests run on: SQLite always; PostgreSQL at
``APPROVAL_GATEWAY_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
each test in a schema of its own, dropped after it. Where no PostgreSQL answers, its cases are
skipped and the run's summary says so in one line (never silently)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

import asyncpg
import pytest

from tests.conftest import POSTGRES_SKIP, TEST_DATABASE_URL

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
URL = TEST_DATABASE_URL or DEFAULT_URL

T = TypeVar("T")


def _run(work: Callable[[], Awaitable[T]]) -> T:
    # Schema set-up runs outside the test's event loop: on a thread with a loop of its own.
    out: list[T] = []
    errors: list[BaseException] = []

    def main() -> None:
        try:
            out.append(asyncio.run(work()))  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@cache
def unavailable() -> str | None:
    """Why no PostgreSQL can be had at ``URL``, or None when one answers."""
    try:
        _run(lambda: _admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def with_schema(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema``."""
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL on a fresh schema, dropped afterwards; skips (loudly) without PostgreSQL."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"{POSTGRES_SKIP} {URL}: {why}")
    schema = f"gw_test_{uuid.uuid4().hex[:12]}"
    _run(lambda: _admin(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_schema(URL, schema)
    finally:
        _run(lambda: _admin(f'DROP SCHEMA "{schema}" CASCADE'))


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server (query parameters kept)."""
    base, _, query = url.partition("?")
    server = base.rsplit("/", 1)[0]
    return f"{server}/{name}" + (f"?{query}" if query else "")


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A URL on a fresh database of its own (for gateway processes, which each connect on
    their own), dropped afterwards with whatever connections a killed process left; skips
    (loudly) without PostgreSQL."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"{POSTGRES_SKIP} {URL}: {why}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _run(lambda: _admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(URL, name)
    finally:
        _run(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
