-- Platform rate budgets (bot.store.limits): one row per budget, holding its next free slot as
-- Unix seconds. SQLite's write transactions are serialised, so reading the rows is enough; the
-- PostgreSQL set (bot/store/postgres/sql/limits.sql) locks them.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/limits.sql).

-- name: read_budgets
-- {marks}: one ? per key (at most a handful: the app's API and the receiver).
SELECT key, next_at FROM rate_limits WHERE key IN ({marks})
