-- Sealed secrets, channel authorizations (consent) and API tokens (hashes only). (PostgreSQL)
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/secrets.sql).

-- name: zero_sealed
-- Overwritten before the delete, so the old bytes do not linger in the page.
UPDATE sealed_secrets SET blob = decode(repeat('00', length(blob)), 'hex') WHERE name = ?

-- name: upsert_authorization
-- The NOTIFY goes out when the transaction commits: every replica takes up the consent (or the
-- revocation) at once instead of at its next check.
WITH recorded AS (INSERT INTO channel_authorizations
    (channel, state, "by", at, notice_version, paid_urgency)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET state = excluded.state,
    "by" = excluded."by", at = excluded.at, notice_version = excluded.notice_version,
    paid_urgency = excluded.paid_urgency
    RETURNING channel)
SELECT pg_notify('approval_gateway_consents', channel) FROM recorded
