-- Bindings, binding codes, account preferences and pending email verifications.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/bindings.sql).

-- name: put_email_verification
INSERT OR REPLACE INTO email_verifications (account_id, address, code_hash,
    requested_by, method, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
