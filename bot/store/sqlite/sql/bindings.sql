-- Bindings, binding codes, account preferences and pending email verifications.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/bindings.sql).

-- name: put_email_verification
INSERT OR REPLACE INTO email_verifications (account_id, address, code_hash,
    requested_by, method, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: routes_at
-- What routing a stage's cards reads, in one statement (bot.store.repos.identities.routes):
-- the delegations not ended at :at (as current_delegations), and a route_facts row, as a JSON
-- object with its account_id, for each of :accounts (a JSON array) and each account reached
-- from them along those delegations.
WITH RECURSIVE current AS (
    SELECT account_id, delegate_id, starts_at, ends_at, set_by, set_at FROM delegations
    WHERE ends_at > :at),
reached (account_id) AS (
    SELECT value FROM json_each(:accounts)
    UNION
    SELECT c.delegate_id FROM current c JOIN reached r ON r.account_id = c.account_id)
SELECT
    (SELECT json_group_array(json_object('account_id', account_id, 'delegate_id', delegate_id,
        'starts_at', starts_at, 'ends_at', ends_at, 'set_by', set_by, 'set_at', set_at))
        FROM current) AS delegations,
    (SELECT json_group_array(json_object('account_id', r.account_id,
        'has_preference', p.account_id, 'channel_order', p.channel_order,
        'email_enabled', p.email_enabled, 'time_zone', p.time_zone,
        'channel', b.channel, 'address', b.address))
        FROM reached r LEFT JOIN account_preferences p ON p.account_id = r.account_id
        LEFT JOIN bindings b ON b.account_id = r.account_id) AS facts
