-- The append-only audit log and usage metering.
-- The text both engines run; an engine's own dialect is in its package's sql/audit.sql.

-- name: insert_audit
INSERT INTO audit (at, who, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)

-- name: audit_page
-- {filters}: any of the audit_* fragments below, each with its one parameter.
SELECT * FROM audit WHERE 1 = 1{filters} ORDER BY id DESC LIMIT ?

-- name: audit_action
AND action = ?

-- name: audit_who
AND who = ?

-- name: audit_target
AND target = ?

-- name: audit_before
AND id < ?

-- name: audit_since
AND at >= ?

-- name: audit_until
AND at <= ?

-- name: usage_by_day
-- {filters}: nothing or usage_channel.
SELECT day AS k, channel, kind, SUM(count) AS n FROM usage WHERE day BETWEEN ? AND ?{filters}
GROUP BY day, channel, kind ORDER BY day, channel

-- name: usage_by_account
SELECT account_id AS k, channel, kind, SUM(count) AS n FROM usage
WHERE day BETWEEN ? AND ?{filters}
GROUP BY account_id, channel, kind ORDER BY account_id, channel

-- name: usage_channel
AND channel = ?
