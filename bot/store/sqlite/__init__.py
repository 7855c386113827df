"""The SQLite engine (stdlib ``sqlite3``, WAL): the embedded default, one gateway process.

Its repository queries are the shared ones (``bot/store/sql``) plus its own text where SQLite's
dialect differs (``sql/*.sql``), its own statements in ``sql/engine.sql``; its versioned
migrations are ``bot/store/sqlite/migrations``. The repository code is the same as PostgreSQL's
(``bot.store.tx.EngineTx``).
"""

from bot.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
