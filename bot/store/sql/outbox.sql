-- The outbox: jobs enqueued in the transaction of the change, claimed under a lease.
-- The text both engines run; an engine's own dialect is in its package's sql/outbox.sql.

-- name: claim_kind_in
-- {marks}: one :kN placeholder per kind, served by the (kind, next_attempt_at) index.
AND kind IN ({marks})

-- name: claim_channel_in
-- {marks}: one :cN placeholder per channel, after claim_kind_in: served by the (kind, channel,
-- next_attempt_at) index of pending jobs (SQLite 0023, PostgreSQL 0017), so a platform's lane
-- never walks past another platform's queued redraws.
AND channel IN ({marks})

-- name: reschedule
UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: defer
-- Put back a job whose call was never made (its rate budget was spent): no attempt is counted.
UPDATE outbox SET next_attempt_at = ?, attempts = attempts - 1, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: bury
UPDATE outbox SET state = 'dead', last_error = ?, lease_owner = NULL,
    lease_until = NULL WHERE id = ? AND lease_owner = ?

-- name: wake_channel_jobs
-- A channel's card jobs that waited for its consent become due now.
UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND kind IN (?, ?)
AND next_attempt_at > ? AND ref IN (SELECT id FROM deliveries WHERE channel = ?)
