"""The PostgreSQL engine (asyncpg): several gateway replicas share one database.

Its own named queries (``sql/*.sql``, the names of ``bot.store.queries.Queries`` in PostgreSQL's
dialect) and versioned migrations (``migrations/NNNN_*.sql``); the repository code is the same as
SQLite's (``bot.store.tx.EngineTx``).
"""

from bot.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
