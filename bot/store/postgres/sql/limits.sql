-- Platform rate budgets (bot.store.limits): one row per budget, holding its next free slot as
-- Unix seconds. (PostgreSQL) Its writers do not queue on one lock as SQLite's do: a reservation
-- first makes sure each key has a row, then locks the rows in key order (no deadlock between two
-- reservations sharing keys), so two replicas never take the same slot.
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/limits.sql).

-- name: read_budgets
-- {marks}: one ? per key (at most a handful: the app's API and the receiver).
SELECT key, next_at FROM rate_limits WHERE key IN ({marks}) ORDER BY key FOR UPDATE
