-- The outbox: jobs enqueued in the transaction of the change, claimed under a lease.

-- name: enqueue
INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?)

-- name: claim
-- {kinds}: nothing, or claim_kind_in (one lane's share of the outbox).
UPDATE outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now
    AND (lease_until IS NULL OR lease_until <= :now){kinds}
    ORDER BY next_attempt_at, id
    LIMIT :limit) RETURNING id, kind, ref, payload, attempts, created_at, last_error

-- name: claim_kind_in
-- {marks}: one :kN placeholder per kind, served by the (kind, next_attempt_at) index.
AND kind IN ({marks})

-- name: complete
UPDATE outbox SET state = 'done', done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: reschedule
UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: defer
-- Put back a job whose call was never made (its rate budget was spent): no attempt is counted.
UPDATE outbox SET next_attempt_at = ?, attempts = attempts - 1, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: release
UPDATE outbox SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = ? AND state = 'pending'

-- name: bury
UPDATE outbox SET state = 'dead', last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: outbox_depth
-- Pending jobs per kind, kept by triggers as jobs change (migration 0013).
SELECT kind, n FROM outbox_counts WHERE n > 0 ORDER BY kind

-- name: wake_channel_jobs
-- A channel's card jobs that waited for its consent become due now.
UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND kind IN (?, ?)
AND next_attempt_at > ? AND ref IN (SELECT id FROM deliveries WHERE channel = ?)

-- name: cancel_steps
-- A request closed: its reminder and escalation steps still to run will not (migration 0015).
UPDATE outbox SET state = 'cancelled', done_at = ?, lease_owner = NULL, lease_until = NULL
WHERE kind = 'timing_step' AND state = 'pending' AND ref >= ? AND ref < ?
