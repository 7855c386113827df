-- Sealed secrets, channel authorizations (consent) and API tokens (hashes only).
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/secrets.sql).

-- name: zero_sealed
-- Overwritten before the delete, so the old bytes do not linger in the page.
UPDATE sealed_secrets SET blob = zeroblob(length(blob)) WHERE name = ?

-- name: upsert_authorization
INSERT INTO channel_authorizations (channel, state, by, at, notice_version, paid_urgency)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET state = excluded.state,
    by = excluded.by, at = excluded.at, notice_version = excluded.notice_version,
    paid_urgency = excluded.paid_urgency
