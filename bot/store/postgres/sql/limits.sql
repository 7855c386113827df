-- Platform rate budgets (bot.store.limits): one row per budget, holding its next free slot as
-- Unix seconds. (PostgreSQL) Its writers do not queue on one lock as SQLite's do: a reservation
-- first makes sure each key has a row, then locks the rows in key order (no deadlock between two
-- reservations sharing keys), so two replicas never take the same slot.

-- name: seed_budgets
-- {rows}: one (?, 0) per key; a new key is free now.
INSERT INTO rate_limits (key, next_at) VALUES {rows} ON CONFLICT (key) DO NOTHING

-- name: read_budgets
-- {marks}: one ? per key (at most a handful: the app's API and the receiver).
SELECT key, next_at FROM rate_limits WHERE key IN ({marks}) ORDER BY key FOR UPDATE

-- name: set_budget
INSERT INTO rate_limits (key, next_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET next_at = excluded.next_at

-- name: sweep_budgets
-- Budgets idle for long are free anyway: dropping them keeps the table to the active receivers.
DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE next_at < ? LIMIT ?)
