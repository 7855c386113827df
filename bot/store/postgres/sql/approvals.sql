-- Requests, their deliveries and delivery events, decisions, and the counts behind /metrics. (PostgreSQL)
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/approvals.sql).

-- name: get_request
-- With what hangs off it, in one statement (one snapshot, one round trip): its decision (a JSON
-- object, or null) and its deliveries in order, each with its history (JSON, as get_delivery).
SELECT r.*,
    (SELECT to_json(x) FROM decisions x WHERE x.request_id = r.id) AS decision,
    (SELECT COALESCE(json_agg(to_json(x) ORDER BY x.created_at, x.id), '[]'::json)
        FROM (SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
            'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json)
            FROM delivery_events e WHERE e.delivery_id = d.id) AS events
        FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id
        WHERE d.request_id = r.id) AS x) AS deliveries
FROM requests r WHERE r.id = ?

-- name: find_request
-- With its decision and deliveries, as get_request.
SELECT r.*,
    (SELECT to_json(x) FROM decisions x WHERE x.request_id = r.id) AS decision,
    (SELECT COALESCE(json_agg(to_json(x) ORDER BY x.created_at, x.id), '[]'::json)
        FROM (SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
            'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json)
            FROM delivery_events e WHERE e.delivery_id = d.id) AS events
        FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id
        WHERE d.request_id = r.id) AS x) AS deliveries
FROM requests r WHERE r.ticket_id = ?

-- name: get_request_by_decision
-- With its decision and deliveries, as get_request.
SELECT r.*,
    (SELECT to_json(x) FROM decisions x WHERE x.request_id = r.id) AS decision,
    (SELECT COALESCE(json_agg(to_json(x) ORDER BY x.created_at, x.id), '[]'::json)
        FROM (SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
            'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json)
            FROM delivery_events e WHERE e.delivery_id = d.id) AS events
        FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id
        WHERE d.request_id = r.id) AS x) AS deliveries
FROM requests r JOIN decisions c ON c.request_id = r.id WHERE c.id = ?

-- name: lock_request
-- Held until the transaction ends: a close_request of this row by another replica waits for
-- its commit (and this waits for a close in progress), so the two never miss each other.
SELECT id FROM requests WHERE id = ? FOR SHARE

-- name: lock_request_exclusive
-- A click counting votes: a second click on the same request, on any replica, waits here for
-- this one's commit and then reads its vote (READ COMMITTED reads anew per statement).
SELECT id FROM requests WHERE id = ? FOR UPDATE

-- name: request_for_vote
-- A click's request: locked as lock_request_exclusive locks it, then read with its decision,
-- deliveries and votes in one call (the function of migration 0014 says why a function), and
-- the bindings of its approvers on the click's channel (migration 0018).
SELECT request_for_vote(?, ?) AS found

-- name: close_request
-- The close and the cancelling of its reminder and escalation steps still pending (as
-- cancel_steps) in one statement; the row returned (0 or 1) is whether it closed.
WITH closed AS (UPDATE requests SET status = :status, closed_at = :at, close_reason = :reason
    WHERE id = :id AND status = 'pending' RETURNING id),
steps AS (UPDATE outbox SET state = 'cancelled', done_at = :at, lease_owner = NULL,
    lease_until = NULL
    WHERE kind = 'timing_step' AND state = 'pending' AND ref ~>=~ :low AND ref ~<~ :high
    AND EXISTS (SELECT 1 FROM closed))
SELECT id FROM closed

-- name: insert_forwarded_decision
-- The decision and its forward job (:forward, due at once) in one statement, woken as enqueue.
WITH decided AS (INSERT INTO decisions (id, request_id, outcome, account_id, display_name,
    channel, comment, decided_at, source, forward_state) VALUES (:id, :request_id, :outcome,
    :account_id, :display_name, :channel, :comment, :decided_at, :source, :forward_state)
    RETURNING id),
job AS (INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at)
    SELECT :forward, id, :payload, :decided_at, :decided_at FROM decided RETURNING kind)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || kind) FROM job

-- name: insert_delivery
-- The delivery, its events (:events, a JSON array of {at, state, detail}, in order) and, when
-- :job is not NULL, that outbox job on it due at its creation (with enqueue's NOTIFY) in one
-- statement: one round trip per approver instead of one per row. The events' ids follow the
-- array's order, so the history reads back as written.
WITH delivery AS (INSERT INTO deliveries (id, request_id, account_id, channel, address, state,
    reason, external_ref, created_at, updated_at) VALUES (:id, :request_id, :account_id,
    :channel, :address, :state, :reason, :external_ref, :created_at, :updated_at) RETURNING id),
history AS (INSERT INTO delivery_events (delivery_id, at, state, detail)
    SELECT delivery.id, e.at, e.state, e.detail FROM delivery,
        ROWS FROM (json_to_recordset(:events::json) AS (at TEXT, state TEXT, detail TEXT))
        WITH ORDINALITY AS e (at, state, detail, n)
    ORDER BY e.n),
job AS (INSERT INTO outbox (kind, ref, payload, next_attempt_at, created_at, channel)
    SELECT CAST(:job AS TEXT), delivery.id, '{}', :created_at, :created_at, :channel FROM delivery
    WHERE CAST(:job AS TEXT) IS NOT NULL RETURNING kind)
SELECT pg_notify('approval_gateway_work', current_schema() || ' ' || kind) FROM job

-- name: get_delivery
-- With its history as the events column (a JSON array of {at, state, detail} in id order):
-- one round trip for the row and its events.
SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
    'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json) FROM delivery_events e
    WHERE e.delivery_id = d.id) AS events
FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id WHERE d.id = ?

-- name: deliveries_of_request
-- Each with its history, as get_delivery.
SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
    'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json) FROM delivery_events e
    WHERE e.delivery_id = d.id) AS events
FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id WHERE d.request_id = ? ORDER BY d.created_at, d.id

-- name: set_delivery_state
-- The new state and its event in one statement: the event row is written only for a delivery
-- that exists, and the rows returned (0 or 1) are what the caller counts.
WITH changed AS (UPDATE deliveries SET state = :state, updated_at = :at,
    reason = COALESCE(:reason, reason), external_ref = COALESCE(:external_ref, external_ref)
    WHERE id = :id RETURNING id)
INSERT INTO delivery_events (delivery_id, at, state, detail)
SELECT id, :at, :state, :detail FROM changed RETURNING delivery_id

-- name: request_counts
-- The rows of each count summed (migration 0004): a few rows, whatever the size of requests
-- and however long since the last fold.
SELECT status, SUM(n)::BIGINT AS n FROM request_counts
GROUP BY status HAVING SUM(n) > 0 ORDER BY status

-- name: delivery_counts
-- The rows of each count summed (migration 0004).
SELECT channel, state, SUM(n)::BIGINT AS n FROM delivery_counts
GROUP BY channel, state HAVING SUM(n) > 0 ORDER BY channel, state
