-- The outbox: jobs enqueued in the transaction of the change, claimed under a lease. (PostgreSQL)

-- name: enqueue
-- The NOTIFY is delivered when the transaction commits: idle workers of every replica wake.
-- Its payload, "<schema> <kind>", lets a replica wake only the lane of that kind, and ignore
-- the work of another deployment in another schema of the same database.
WITH job AS (INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at)
    VALUES (?, ?, ?, ?, ?) RETURNING kind)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || kind) FROM job

-- name: claim
-- {kinds}: nothing, or claim_kind_in (one lane's share of the outbox).
-- SKIP LOCKED: replicas claiming at once each take other rows instead of waiting on each
-- other; a row whose lease ran out (its replica died) is claimable again.
UPDATE outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now
    AND (lease_until IS NULL OR lease_until <= :now){kinds}
    ORDER BY next_attempt_at, id
    LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING id, kind, ref, payload, attempts, created_at, last_error

-- name: claim_kind_in
-- {marks}: one :kN placeholder per kind, served by the (kind, next_attempt_at) index.
AND kind IN ({marks})

-- name: complete
UPDATE outbox SET state = 'done', done_at = to_char(clock_timestamp() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: reschedule
UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: defer
-- Put back a job whose call was never made (its rate budget was spent): no attempt is counted.
UPDATE outbox SET next_attempt_at = ?, attempts = attempts - 1, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: release
-- Released jobs (a replica stopping) wake the other replicas at once.
WITH freed AS (UPDATE outbox SET lease_owner = NULL, lease_until = NULL
    WHERE lease_owner = ? AND state = 'pending' RETURNING kind)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || kind) FROM freed

-- name: bury
UPDATE outbox SET state = 'dead', last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: outbox_depth
-- Pending jobs per kind: the rows of each count summed (migration 0004).
SELECT kind, SUM(n)::BIGINT AS n FROM outbox_counts
GROUP BY kind HAVING SUM(n) > 0 ORDER BY kind

-- name: wake_channel_jobs
-- A channel's card jobs that waited for its consent become due now.
UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND kind IN (?, ?)
AND next_attempt_at > ? AND ref IN (SELECT id FROM deliveries WHERE channel = ?)

-- name: cancel_steps
-- A request closed: its reminder and escalation steps still to run will not (migration 0007).
UPDATE outbox SET state = 'cancelled', done_at = ?, lease_owner = NULL, lease_until = NULL
WHERE kind = 'timing_step' AND state = 'pending' AND ref ~>=~ ? AND ref ~<~ ?
