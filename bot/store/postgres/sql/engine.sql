-- The PostgreSQL engine's own statements: migrations under an advisory lock, the probe, the
-- folding of the /metrics counts.

-- name: migration_lock
-- Held until the migrating transaction ends: replicas starting together migrate one at a
-- time, and each after the first finds nothing left to apply. Keyed by schema.
SELECT pg_advisory_xact_lock(hashtext('approval_gateway:' || current_schema()))

-- name: analyze_schema
-- Fresh statistics for every table of this store's schema (after migrations: see the store).
-- Named one by one: a bare ANALYZE would sample every schema of the database, others' too.
DO $$
DECLARE t TEXT;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
        EXECUTE format('ANALYZE %I', t);
    END LOOP;
END $$

-- name: fold_lock
-- One replica folds at a time; a scrape that finds the lock taken skips its fold (the counts
-- read the same either way) instead of waiting.
SELECT pg_try_advisory_xact_lock(hashtext('approval_gateway_counts:' || current_schema()))

-- name: fold_request_counts
-- The rows of sessions that are gone join slot 0 (migration 0004), so the rows stay as few as
-- the counts times the sessions open. A row whose session is writing it is skipped, not waited
-- for (a new session may have the pid of a gone one): the sum is the same in either place.
WITH gone AS (
    SELECT status, slot FROM request_counts AS c WHERE slot <> 0
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = c.slot)
    FOR UPDATE SKIP LOCKED),
moved AS (DELETE FROM request_counts AS c USING gone
    WHERE (c.status, c.slot) = (gone.status, gone.slot) RETURNING c.status, c.n)
INSERT INTO request_counts AS c (status, slot, n) SELECT status, 0, SUM(n) FROM moved GROUP BY status
ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n

-- name: fold_delivery_counts
WITH gone AS (
    SELECT channel, state, slot FROM delivery_counts AS c WHERE slot <> 0
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = c.slot)
    FOR UPDATE SKIP LOCKED),
moved AS (DELETE FROM delivery_counts AS c USING gone
    WHERE (c.channel, c.state, c.slot) = (gone.channel, gone.state, gone.slot)
    RETURNING c.channel, c.state, c.n)
INSERT INTO delivery_counts AS c (channel, state, slot, n)
SELECT channel, state, 0, SUM(n) FROM moved GROUP BY channel, state
ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n

-- name: fold_outbox_counts
WITH gone AS (
    SELECT kind, slot FROM outbox_counts AS c WHERE slot <> 0
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = c.slot)
    FOR UPDATE SKIP LOCKED),
moved AS (DELETE FROM outbox_counts AS c USING gone
    WHERE (c.kind, c.slot) = (gone.kind, gone.slot) RETURNING c.kind, c.n)
INSERT INTO outbox_counts AS c (kind, slot, n) SELECT kind, 0, SUM(n) FROM moved GROUP BY kind
ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n

-- name: fold_usage_counts
WITH gone AS (
    SELECT channel, kind, slot FROM usage_counts AS c WHERE slot <> 0
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = c.slot)
    FOR UPDATE SKIP LOCKED),
moved AS (DELETE FROM usage_counts AS c USING gone
    WHERE (c.channel, c.kind, c.slot) = (gone.channel, gone.kind, gone.slot)
    RETURNING c.channel, c.kind, c.n)
INSERT INTO usage_counts AS c (channel, kind, slot, n)
SELECT channel, kind, 0, SUM(n) FROM moved GROUP BY channel, kind
ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n

-- name: reserve_budgets
-- One rate reservation, run alone (not inside a transaction block): migration 0005.
SELECT granted, wait, at FROM reserve_budgets($1, $2, $3, $4, $5, $6, $7)

-- name: reserve_in_windows
-- One rate reservation with its windows' turns, run alone: migration 0013.
SELECT granted, wait, at, turns
FROM reserve_in_windows($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)

-- name: listen_schema
-- The LISTEN connection's schema: the work NOTIFYs it answers are this store's.
SELECT current_schema()

-- name: listen_ping
-- The LISTEN connection's liveness check.
SELECT 1

-- name: apply_writes
-- The writes a transaction deferred (bot/store/postgres/tx.py), run in order by migration
-- 0017's function: one round trip for all of them.
SELECT apply_writes(CAST(? AS json))
