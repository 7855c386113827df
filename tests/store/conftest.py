"""Fixtures of the storage tests: ``engine`` runs a test once per engine (see
``tests.store.engines``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.store.engines import postgres_schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of this test's own."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EngineStore]:
    """An open, migrated store of each engine."""
    store: EngineStore
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "gateway.db")
    else:
        store = PostgresStore(request.getfixturevalue("pg_url"), pool_size=4)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
