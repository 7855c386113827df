-- The statements of the engines' own machinery (not repository queries) that every engine runs as
-- written: the migration runner's bookkeeping and the readiness probe. An engine's own are in its
-- package's sql/engine.sql.

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations
    (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)

-- name: schema_version
SELECT COALESCE(MAX(version), 0) FROM schema_migrations

-- name: record_migration
INSERT INTO schema_migrations VALUES (?, ?, ?)

-- name: write_probe
INSERT INTO write_probe (id, at) VALUES (1, ?)
ON CONFLICT (id) DO UPDATE SET at = excluded.at
