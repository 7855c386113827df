-- Sealed secrets, channel authorizations (consent) and API tokens (hashes only). (PostgreSQL)

-- name: put_sealed
INSERT INTO sealed_secrets (name, key_id, blob, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, blob = excluded.blob,
    updated_at = excluded.updated_at

-- name: get_sealed
SELECT key_id, blob FROM sealed_secrets WHERE name = ?

-- name: zero_sealed
-- Overwritten before the delete, so the old bytes do not linger in the page.
UPDATE sealed_secrets SET blob = decode(repeat('00', length(blob)), 'hex') WHERE name = ?

-- name: delete_sealed
DELETE FROM sealed_secrets WHERE name = ?

-- name: all_sealed
SELECT name, key_id, blob FROM sealed_secrets

-- name: all_authorizations
SELECT * FROM channel_authorizations

-- name: upsert_authorization
-- The NOTIFY goes out when the transaction commits: every replica takes up the consent (or the
-- revocation) at once instead of at its next check.
WITH recorded AS (INSERT INTO channel_authorizations (channel, state, "by", at, notice_version)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET state = excluded.state,
    "by" = excluded."by", at = excluded.at, notice_version = excluded.notice_version
    RETURNING channel)
SELECT pg_notify('approval_gateway_consents', channel) FROM recorded

-- name: insert_token
INSERT INTO api_tokens (id, role, token_hash, label, created_at)
VALUES (?, ?, ?, ?, ?)

-- name: resolve_token
SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL

-- name: list_tokens
SELECT * FROM api_tokens ORDER BY created_at DESC

-- name: revoke_token
UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
