-- Bindings, binding codes, account preferences and pending email verifications.
-- The text both engines run; an engine's own dialect is in its package's sql/bindings.sql.

-- name: binding_address
SELECT address FROM bindings WHERE account_id = ? AND channel = ?

-- name: route_facts
-- What Router.plan reads of an account, in one statement: its route preference (has_preference
-- NULL when it set none) beside each of its bindings (channel NULL when it has none).
SELECT p.account_id AS has_preference, p.channel_order, p.email_enabled, p.time_zone,
    b.channel, b.address
FROM (SELECT CAST(? AS TEXT) AS account_id) AS a
LEFT JOIN account_preferences p ON p.account_id = a.account_id
LEFT JOIN bindings b ON b.account_id = a.account_id

-- name: binding_owner
SELECT account_id FROM bindings WHERE channel = ? AND address = ?

-- name: first_bound_on
-- {marks}: one ? per channel. The first accounts bound on each channel, by account id (the
-- bindings hold no display names): the candidates of a card's hand-over picker.
SELECT account_id, channel, address FROM (
    SELECT account_id, channel, address,
        ROW_NUMBER() OVER (PARTITION BY channel ORDER BY account_id) AS n
    FROM bindings WHERE channel IN ({marks})
) AS ranked WHERE n <= ? ORDER BY channel, account_id

-- name: upsert_binding
INSERT INTO bindings (account_id, channel, address, bound_by, method, bound_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, channel) DO UPDATE SET
    address = excluded.address, bound_by = excluded.bound_by,
    method = excluded.method, bound_at = excluded.bound_at

-- name: bindings_of_account
SELECT * FROM bindings WHERE account_id = ? ORDER BY channel

-- name: bindings_page
-- {filters}: any of bindings_unbound_on or bindings_on, then bindings_after.
SELECT * FROM bindings WHERE 1 = 1{filters}
ORDER BY account_id, channel LIMIT ?

-- name: bindings_unbound_on
AND account_id NOT IN (SELECT account_id FROM bindings WHERE channel = ?)

-- name: bindings_on
AND channel = ?

-- name: bindings_after
-- Keyset paging: stable while rows are added or removed between pages.
AND (account_id, channel) > (?, ?)

-- name: remove_binding
DELETE FROM bindings WHERE account_id = ? AND channel = ?

-- name: sweep_binding_codes
DELETE FROM binding_codes WHERE expires_at < ?

-- name: insert_binding_code
INSERT INTO binding_codes (code_hash, account_id, created_at, expires_at)
VALUES (?, ?, ?, ?)

-- name: take_binding_code
UPDATE binding_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL
AND expires_at > ? RETURNING account_id

-- name: route_preference
SELECT channel_order, email_enabled, time_zone FROM account_preferences WHERE account_id = ?

-- name: get_preferences
SELECT * FROM account_preferences WHERE account_id = ?

-- name: upsert_preferences
INSERT INTO account_preferences
    (account_id, channel_order, email_enabled, time_zone, updated_by, updated_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET
    channel_order = excluded.channel_order, email_enabled = excluded.email_enabled,
    time_zone = excluded.time_zone,
    updated_by = excluded.updated_by, updated_at = excluded.updated_at

-- name: sweep_email_verifications
DELETE FROM email_verifications WHERE expires_at < ?

-- name: drop_email_verification
DELETE FROM email_verifications WHERE account_id = ?

-- name: pending_email_verification
SELECT * FROM email_verifications WHERE account_id = ? AND expires_at > ?
AND attempts < ?

-- name: count_email_attempt
UPDATE email_verifications SET attempts = attempts + 1 WHERE account_id = ?
