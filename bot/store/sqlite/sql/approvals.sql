-- Requests, their deliveries and delivery events, decisions, and the counts behind /metrics.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/approvals.sql).

-- name: get_request
SELECT * FROM requests WHERE id = ?

-- name: find_request
SELECT * FROM requests WHERE ticket_id = ?

-- name: get_request_by_decision
SELECT r.* FROM requests r JOIN decisions d ON d.request_id = r.id WHERE d.id = ?

-- name: lock_request
-- SQLite runs one write transaction at a time: reading the row is all it takes.
SELECT id FROM requests WHERE id = ?

-- name: lock_request_exclusive
-- The same: one writer at a time already takes turns.
SELECT id FROM requests WHERE id = ?

-- name: request_for_vote
-- The clicked card's request id: one writer at a time already holds it, and the request, its
-- deliveries and its votes follow as statements run inline.
SELECT request_id FROM deliveries WHERE id = ?

-- name: close_request
-- The row only: its steps are cancelled by cancel_steps after it, run inline.
UPDATE requests SET status = :status, closed_at = :at, close_reason = :reason
WHERE id = :id AND status = 'pending'

-- name: insert_forwarded_decision
-- The decision's forward job only: insert_decision runs before it, inline.
INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at)
VALUES (:forward, :id, :payload, :decided_at, :decided_at)

-- name: insert_delivery
-- The row only (:events and :job are PostgreSQL's): its events follow as
-- insert_delivery_event, and its job as enqueue, each a statement run inline.
INSERT INTO deliveries (id, request_id, account_id, channel, address, state, reason,
    external_ref, created_at, updated_at) VALUES (:id, :request_id, :account_id, :channel,
    :address, :state, :reason, :external_ref, :created_at, :updated_at)

-- name: get_delivery
-- With the approver's own time zone (preferences), as it is now: the card drawn from it shows
-- times in that zone.
SELECT d.*, p.time_zone FROM deliveries d
LEFT JOIN account_preferences p ON p.account_id = d.account_id WHERE d.id = ?

-- name: deliveries_of_request
-- With each approver's own time zone, as get_delivery.
SELECT d.*, p.time_zone FROM deliveries d
LEFT JOIN account_preferences p ON p.account_id = d.account_id
WHERE d.request_id = ? ORDER BY d.created_at, d.id

-- name: set_delivery_state
-- The row only (:detail is PostgreSQL's): its event follows as insert_delivery_event.
UPDATE deliveries SET state = :state, updated_at = :at, reason = COALESCE(:reason, reason),
    external_ref = COALESCE(:external_ref, external_ref) WHERE id = :id

-- name: request_counts
-- Kept by triggers as requests change (migration 0013): a scrape reads a few rows.
SELECT status, n FROM request_counts WHERE n > 0 ORDER BY status

-- name: delivery_counts
-- Kept by triggers as deliveries change (migration 0013).
SELECT channel, state, n FROM delivery_counts WHERE n > 0 ORDER BY channel, state
