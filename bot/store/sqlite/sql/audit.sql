-- The append-only audit log and usage metering.
-- SQLite's own text of the queries whose dialect differs; the rest is shared (bot/store/sql/audit.sql).

-- name: meter
INSERT INTO usage (day, channel, account_id, kind, count) VALUES (?, ?, ?, ?, 1)
ON CONFLICT (day, channel, account_id, kind) DO UPDATE SET count = count + 1

-- name: usage_totals
-- Kept by triggers as usage is metered (migration 0013).
SELECT channel, kind, n FROM usage_counts ORDER BY channel, kind
