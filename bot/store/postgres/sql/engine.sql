-- The PostgreSQL engine's own statements: migrations under an advisory lock, the probe, the
-- folding of the /metrics counts.

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

-- name: fold_lock
-- One replica folds at a time; a scrape that finds the lock taken skips its fold (its read
-- adds the deltas anyway) instead of waiting.
SELECT pg_try_advisory_xact_lock(hashtext('approval_gateway_counts:' || current_schema()))

-- name: fold_request_counts
-- The deltas appended since the last fold move into the counts, in one statement: a reader's
-- snapshot sees them on one side or the other, never both or neither.
WITH moved AS (DELETE FROM request_count_deltas RETURNING status, n)
INSERT INTO request_counts (status, n) SELECT status, SUM(n) FROM moved GROUP BY status
ON CONFLICT (status) DO UPDATE SET n = request_counts.n + excluded.n

-- name: fold_delivery_counts
WITH moved AS (DELETE FROM delivery_count_deltas RETURNING channel, state, n)
INSERT INTO delivery_counts (channel, state, n)
SELECT channel, state, SUM(n) FROM moved GROUP BY channel, state
ON CONFLICT (channel, state) DO UPDATE SET n = delivery_counts.n + excluded.n

-- name: fold_outbox_counts
WITH moved AS (DELETE FROM outbox_count_deltas RETURNING kind, n)
INSERT INTO outbox_counts (kind, n) SELECT kind, SUM(n) FROM moved GROUP BY kind
ON CONFLICT (kind) DO UPDATE SET n = outbox_counts.n + excluded.n

-- name: fold_usage_counts
WITH moved AS (DELETE FROM usage_count_deltas RETURNING channel, kind, n)
INSERT INTO usage_counts (channel, kind, n)
SELECT channel, kind, SUM(n) FROM moved GROUP BY channel, kind
ON CONFLICT (channel, kind) DO UPDATE SET n = usage_counts.n + excluded.n
