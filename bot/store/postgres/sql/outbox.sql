-- The outbox: jobs enqueued in the transaction of the change, claimed under a lease. (PostgreSQL)
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/outbox.sql).

-- name: enqueue
-- The NOTIFY is delivered when the transaction commits: idle workers of every replica wake.
-- Its payload, "<schema> <kind>" (or "<schema> <kind> <channel>" for a job queued for a
-- channel), lets a replica wake only the lane of that kind (and channel), and ignore the work
-- of another deployment in another schema of the same database.
WITH job AS (INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at, channel)
    VALUES (?, ?, ?, ?, ?, ?) RETURNING kind, channel)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || concat_ws(' ', kind,
    NULLIF(channel, ''))) FROM job

-- name: claim
-- {kinds}: nothing, or claim_kind_in, with claim_channel_in (one lane's share of the outbox).
-- SKIP LOCKED: replicas claiming at once each take other rows instead of waiting on each
-- other; a row whose lease ran out (its replica died) is claimable again.
UPDATE outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now
    AND (lease_until IS NULL OR lease_until <= :now){kinds}
    ORDER BY next_attempt_at, id
    LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING id, kind, ref, payload, attempts, created_at, last_error

-- name: complete
UPDATE outbox SET state = 'done', done_at = to_char(clock_timestamp() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: release
-- Released jobs (a replica stopping) wake the other replicas at once.
WITH freed AS (UPDATE outbox SET lease_owner = NULL, lease_until = NULL
    WHERE lease_owner = ? AND state = 'pending' RETURNING kind)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || kind) FROM freed

-- name: outbox_depth
-- Pending jobs per kind: the rows of each count summed (migration 0004).
SELECT kind, SUM(n)::BIGINT AS n FROM outbox_counts
GROUP BY kind HAVING SUM(n) > 0 ORDER BY kind

-- name: cancel_steps
-- A request closed: its reminder and escalation steps still to run will not (migration 0007).
UPDATE outbox SET state = 'cancelled', done_at = ?, lease_owner = NULL, lease_until = NULL
WHERE kind = 'timing_step' AND state = 'pending' AND ref ~>=~ ? AND ref ~<~ ?

-- name: request_jobs
-- A request's trace: its reminder and escalation steps (ref "<request id>/<key>", pending or
-- not) and its submitter's outcome notice (ref "<request id>/submitter"), each on its own
-- partial index (migrations 0007 and 0009).
SELECT kind, ref, payload, state, next_attempt_at, done_at, last_error FROM outbox
WHERE kind = 'timing_step' AND ref ~>=~ ? AND ref ~<~ ?
UNION ALL
SELECT kind, ref, payload, state, next_attempt_at, done_at, last_error FROM outbox
WHERE kind = 'tell_identity' AND ref = ?

-- name: enqueue_redraw
-- A card's redraw, unless one is already waiting unclaimed (migration 0011): it will draw the
-- request as it is then. Woken as enqueue is.
WITH job AS (INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at, channel)
    SELECT :kind, :ref, :payload, :at, :at, :channel
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = :kind AND ref = :ref
        AND state = 'pending' AND payload = :payload AND lease_owner IS NULL)
    RETURNING kind, channel)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || concat_ws(' ', kind,
    NULLIF(channel, ''))) FROM job
