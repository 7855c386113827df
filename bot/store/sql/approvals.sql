-- Requests, their deliveries and delivery events, decisions, and the counts behind /metrics.
-- The text both engines run; an engine's own dialect is in its package's sql/approvals.sql.

-- name: insert_request
-- Nothing when the ticket is already stored (the caller reads that from the count): one
-- statement where a look-up first would be two.
INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO NOTHING

-- name: request_status
SELECT status FROM requests WHERE id = ?

-- name: decision_of_request
-- (SQLite only: PostgreSQL's request queries return the decision.)
SELECT * FROM decisions WHERE request_id = ?

-- name: set_roster_changes
-- Who joined the pending request since it started (bot.core.roster), under its lock.
UPDATE requests SET roster_changes = ? WHERE id = ? AND status = 'pending'

-- name: due_for_expiry
SELECT id FROM requests WHERE status = 'pending' AND expires_at <= ?
ORDER BY expires_at LIMIT ?

-- name: delivery_head
-- A delivery's request and state, without its history.
SELECT request_id, state FROM deliveries WHERE id = ?

-- name: insert_delivery_event
INSERT INTO delivery_events (delivery_id, at, state, detail) VALUES (?, ?, ?, ?)

-- name: events_of_deliveries
-- {marks}: one ? per delivery id. (SQLite only: PostgreSQL's delivery queries return their events.)
SELECT * FROM delivery_events WHERE delivery_id IN ({marks}) ORDER BY id

-- name: queued_deliveries_of_channel
SELECT id FROM deliveries WHERE channel = ? AND state = ?

-- name: insert_decision
INSERT INTO decisions (id, request_id, outcome, account_id, display_name, channel,
    comment, decided_at, source, forward_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: set_forward_state
UPDATE decisions SET forward_state = ?, forward_detail = ?, forwarded_at = ?
WHERE id = ?
