-- The append-only audit log and usage metering. (PostgreSQL)
-- PostgreSQL's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/audit.sql).

-- name: meter
INSERT INTO usage (day, channel, account_id, kind, count) VALUES (?, ?, ?, ?, 1)
ON CONFLICT (day, channel, account_id, kind) DO UPDATE SET count = usage.count + 1

-- name: usage_totals
-- The rows of each count summed (migration 0004).
SELECT channel, kind, SUM(n)::BIGINT AS n FROM usage_counts
GROUP BY channel, kind ORDER BY channel, kind
