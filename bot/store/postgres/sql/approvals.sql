-- Requests, their deliveries and delivery events, decisions, and the counts behind /metrics. (PostgreSQL)

-- name: insert_request
INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: get_request
SELECT * FROM requests WHERE id = ?

-- name: request_status
SELECT status FROM requests WHERE id = ?

-- name: find_request
SELECT * FROM requests WHERE ticket_id = ?

-- name: get_request_by_decision
SELECT r.* FROM requests r JOIN decisions d ON d.request_id = r.id WHERE d.id = ?

-- name: decision_of_request
SELECT * FROM decisions WHERE request_id = ?

-- name: close_request
UPDATE requests SET status = ?, closed_at = ?, close_reason = ?
WHERE id = ? AND status = 'pending'

-- name: lock_request
-- Held until the transaction ends: a close_request of this row by another replica waits for
-- its commit (and this waits for a close in progress), so the two never miss each other.
SELECT id FROM requests WHERE id = ? FOR SHARE

-- name: due_for_expiry
SELECT id FROM requests WHERE status = 'pending' AND expires_at <= ?
ORDER BY expires_at LIMIT ?

-- name: insert_delivery
INSERT INTO deliveries (id, request_id, account_id, channel, address, state, reason,
    external_ref, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_delivery_event
INSERT INTO delivery_events (delivery_id, at, state, detail) VALUES (?, ?, ?, ?)

-- name: get_delivery
SELECT * FROM deliveries WHERE id = ?

-- name: deliveries_of_request
SELECT * FROM deliveries WHERE request_id = ? ORDER BY created_at, id

-- name: events_of_deliveries
-- {marks}: one ? per delivery id.
SELECT * FROM delivery_events WHERE delivery_id IN ({marks}) ORDER BY id

-- name: set_delivery_state
UPDATE deliveries SET state = ?, updated_at = ?, reason = COALESCE(?, reason),
    external_ref = COALESCE(?, external_ref) WHERE id = ?

-- name: queued_deliveries_of_channel
SELECT id FROM deliveries WHERE channel = ? AND state = ?

-- name: insert_decision
INSERT INTO decisions (id, request_id, outcome, account_id, display_name, channel,
    comment, decided_at, source, forward_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: set_forward_state
UPDATE decisions SET forward_state = ?, forward_detail = ?, forwarded_at = ?
WHERE id = ?

-- name: request_counts
-- The rows of each count summed (migration 0004): a few rows, whatever the size of requests
-- and however long since the last fold.
SELECT status, SUM(n)::BIGINT AS n FROM request_counts
GROUP BY status HAVING SUM(n) > 0 ORDER BY status

-- name: delivery_counts
-- The rows of each count summed (migration 0004).
SELECT channel, state, SUM(n)::BIGINT AS n FROM delivery_counts
GROUP BY channel, state HAVING SUM(n) > 0 ORDER BY channel, state
