-- Platform rate budgets (bot.store.limits): one row per budget, holding its next free slot as
-- Unix seconds. Written portably: PostgreSQL takes the same statements (with $n placeholders and
-- next_at DOUBLE PRECISION), and its read must lock the rows (FOR UPDATE) since its transactions
-- do not serialise writers the way SQLite's write lock does.

-- name: read_budgets
-- {marks}: one ? per key (at most a handful: the app's API and the receiver).
SELECT key, next_at FROM rate_limits WHERE key IN ({marks})

-- name: set_budget
INSERT INTO rate_limits (key, next_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET next_at = excluded.next_at

-- name: sweep_budgets
-- Budgets idle for long are free anyway: dropping them keeps the table to the active receivers.
DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE next_at < ? LIMIT ?)
