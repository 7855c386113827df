-- Bindings, binding codes, account preferences and pending email verifications. (PostgreSQL)
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/bindings.sql).

-- name: put_email_verification
INSERT INTO email_verifications (account_id, address, code_hash,
    requested_by, method, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id) DO UPDATE SET address = excluded.address,
    code_hash = excluded.code_hash, requested_by = excluded.requested_by,
    method = excluded.method, created_at = excluded.created_at,
    expires_at = excluded.expires_at, attempts = 0
