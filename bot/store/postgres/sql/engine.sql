-- The PostgreSQL engine's own statements: migrations under an advisory lock, the probe.

-- name: migration_lock
-- Held until the migrating transaction ends: replicas starting together migrate one at a
-- time, and each after the first finds nothing left to apply. Keyed by schema.
SELECT pg_advisory_xact_lock(hashtext('approval_gateway:' || current_schema()))

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations
    (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)

-- name: schema_version
SELECT COALESCE(MAX(version), 0) FROM schema_migrations

-- name: record_migration
INSERT INTO schema_migrations VALUES ($1, $2, $3)

-- name: write_probe
INSERT INTO write_probe (id, at) VALUES (1, $1)
ON CONFLICT (id) DO UPDATE SET at = excluded.at
