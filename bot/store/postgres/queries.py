"""The PostgreSQL engine's named queries: the repository set (shared + its own dialect, see
``bot.store.queries``) and its own statements (``sql/engine.sql``). A module of its own so the
store and its LISTEN connection (``listen.py``) both read them."""

from __future__ import annotations

from bot.store.queries import NamedQueries, Queries, load_all, load_engine


class PostgresEngineQueries(NamedQueries):
    """The engine's own statements (``bot/store/postgres/sql/engine.sql`` and the shared
    ``bot/store/sql/engine.sql``): migrations under an advisory lock, the probe, the folding of
    the /metrics counts, the LISTEN connection's checks."""

    migration_lock: str
    create_schema_migrations: str
    schema_version: str
    record_migration: str
    analyze_schema: str
    write_probe: str
    fold_lock: str
    fold_request_counts: str
    fold_delivery_counts: str
    fold_outbox_counts: str
    fold_usage_counts: str
    reserve_budgets: str
    reserve_in_windows: str
    listen_schema: str
    listen_ping: str
    apply_writes: str


POSTGRES = Queries(load_all("bot.store.postgres"))
"""The PostgreSQL engine's repository queries."""
ENGINE = PostgresEngineQueries(load_engine("bot.store.postgres"))
"""The PostgreSQL engine's own statements."""
