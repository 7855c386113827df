-- The outbox: jobs enqueued in the transaction of the change, claimed under a lease.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/outbox.sql).

-- name: enqueue
INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at, channel)
VALUES (?, ?, ?, ?, ?, ?)

-- name: claim
-- {kinds}: nothing, or claim_kind_in, with claim_channel_in (one lane's share of the outbox).
UPDATE outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now
    AND (lease_until IS NULL OR lease_until <= :now){kinds}
    ORDER BY next_attempt_at, id
    LIMIT :limit) RETURNING id, kind, ref, payload, attempts, created_at, last_error

-- name: complete
UPDATE outbox SET state = 'done', done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: release
UPDATE outbox SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = ? AND state = 'pending'

-- name: outbox_depth
-- Pending jobs per kind, kept by triggers as jobs change (migration 0013).
SELECT kind, n FROM outbox_counts WHERE n > 0 ORDER BY kind

-- name: cancel_steps
-- A request closed: its reminder and escalation steps still to run will not (migration 0015).
UPDATE outbox SET state = 'cancelled', done_at = ?, lease_owner = NULL, lease_until = NULL
WHERE kind = 'timing_step' AND state = 'pending' AND ref >= ? AND ref < ?

-- name: request_jobs
-- A request's trace: its reminder and escalation steps (ref "<request id>/<key>", pending or
-- not) and its submitter's outcome notice (ref "<request id>/submitter"), each on its own
-- partial index (migrations 0015 and 0017).
SELECT kind, ref, payload, state, next_attempt_at, done_at, last_error FROM outbox
WHERE kind = 'timing_step' AND ref >= ? AND ref < ?
UNION ALL
SELECT kind, ref, payload, state, next_attempt_at, done_at, last_error FROM outbox
WHERE kind = 'tell_identity' AND ref = ?

-- name: enqueue_redraw
-- A card's redraw, unless one is already waiting unclaimed (migration 0019): it will draw the
-- request as it is then.
INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at, channel)
SELECT :kind, :ref, :payload, :at, :at, :channel
WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = :kind AND ref = :ref AND state = 'pending'
    AND payload = :payload AND lease_owner IS NULL)
