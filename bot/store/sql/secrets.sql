-- Sealed secrets, channel authorizations (consent) and API tokens (hashes only).
-- The text both engines run; an engine's own dialect is in its package's sql/secrets.sql.

-- name: put_sealed
INSERT INTO sealed_secrets (name, key_id, blob, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, blob = excluded.blob,
    updated_at = excluded.updated_at

-- name: get_sealed
SELECT key_id, blob FROM sealed_secrets WHERE name = ?

-- name: delete_sealed
DELETE FROM sealed_secrets WHERE name = ?

-- name: all_sealed
SELECT name, key_id, blob FROM sealed_secrets

-- name: all_authorizations
SELECT * FROM channel_authorizations

-- name: insert_token
INSERT INTO api_tokens (id, role, token_hash, label, created_at)
VALUES (?, ?, ?, ?, ?)

-- name: resolve_token
SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL

-- name: list_tokens
SELECT * FROM api_tokens ORDER BY created_at DESC

-- name: revoke_token
UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
