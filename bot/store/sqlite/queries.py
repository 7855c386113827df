"""The SQLite engine's named queries: the repository set (shared + its own dialect, see
``bot.store.queries``) and its own statements (``sql/engine.sql``)."""

from __future__ import annotations

from bot.store.queries import NamedQueries, Queries, load_all, load_engine


class SqliteEngineQueries(NamedQueries):
    """``bot/store/sqlite/sql/engine.sql``: the SQLite engine's connection setup, transactions,
    migration runner and readiness probe."""

    pragma_busy_timeout: str
    pragma_journal_wal: str
    pragma_synchronous_full: str
    pragma_foreign_keys: str
    begin_write: str
    begin_read: str
    commit: str
    savepoint: str
    rollback_to_savepoint: str
    release_savepoint: str
    create_schema_migrations: str
    schema_version: str
    record_migration: str
    write_probe: str


SQLITE = Queries(load_all("bot.store.sqlite"))
"""The SQLite engine's repository queries."""
SQLITE_ENGINE = SqliteEngineQueries(load_engine("bot.store.sqlite"))
"""The SQLite engine's own statements (``sql/engine.sql``)."""
