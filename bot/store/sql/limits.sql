-- Platform rate budgets (bot.store.limits): one row per budget, holding its next free slot as
-- Unix seconds. SQLite's write transactions are serialised, so reading the rows is enough; the
-- PostgreSQL set (bot/store/postgres/sql/limits.sql) locks them.
-- The text both engines run; an engine's own dialect is in its package's sql/limits.sql.

-- name: seed_budgets
-- {rows}: one (?, 0) per key; a new key is free now. (Needed by PostgreSQL's row locks; a
-- SQLite reservation reads a missing key as free now instead.)
INSERT INTO rate_limits (key, next_at) VALUES {rows} ON CONFLICT (key) DO NOTHING

-- name: set_budget
INSERT INTO rate_limits (key, next_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET next_at = excluded.next_at

-- name: set_budgets
-- {rows}: one (?, ?) per key: every budget a reservation moved, in one statement.
INSERT INTO rate_limits (key, next_at) VALUES {rows}
ON CONFLICT (key) DO UPDATE SET next_at = excluded.next_at

-- name: sweep_budgets
-- Budgets idle for long are free anyway: dropping them keeps the table to the active receivers.
DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE next_at < ? LIMIT ?)
