-- Answers to signed requests (idempotency and replay memory) and the callbacks' replay memory.
-- The text both engines run; an engine's own dialect is in its package's sql/answers.sql.

-- name: recall_answer
SELECT request_hash, status, content_type, key_id, body FROM signed_answers
WHERE request_id = ?

-- name: claim_answer
-- The first statement of a signed write: one row per request id. A second transaction with the
-- same id finds the row taken (and, on PostgreSQL, first waits here for the one that holds it to
-- commit or roll back); status 0 until keep_answer writes the answer, in the same transaction.
INSERT INTO signed_answers (request_id, request_hash, status, created_at, expires_at)
VALUES (?, ?, 0, ?, ?) ON CONFLICT (request_id) DO NOTHING

-- name: keep_answer
INSERT INTO signed_answers (request_id, request_hash, status, content_type, key_id,
    body, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (request_id) DO UPDATE SET request_hash = excluded.request_hash,
    status = excluded.status, content_type = excluded.content_type, key_id = excluded.key_id,
    body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at

-- name: forget_answers
DELETE FROM signed_answers WHERE request_id IN (SELECT request_id FROM
    signed_answers WHERE expires_at < ? ORDER BY expires_at LIMIT ?)

-- name: sealed_answers
SELECT request_id, key_id, body FROM signed_answers WHERE key_id IS NOT NULL

-- name: reseal_answer
UPDATE signed_answers SET key_id = ?, body = ? WHERE request_id = ?

-- name: sweep_callback_replays
DELETE FROM callback_replays WHERE key IN (SELECT key FROM callback_replays
    WHERE expires_at < ? ORDER BY expires_at LIMIT ?)

-- name: take_callback_replay
-- Inserts once; an expired row with the same key is taken over, a live one is a replay.
INSERT INTO callback_replays (key, expires_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
WHERE callback_replays.expires_at < ?

-- name: release_callback_replay
DELETE FROM callback_replays WHERE key = ?
