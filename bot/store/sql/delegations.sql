-- Delegations while away (bot.store.repos.delegations): who acts for an approver, and when.

-- name: add_delegation
INSERT INTO delegations (account_id, delegate_id, starts_at, ends_at, set_by, set_at)
VALUES (?, ?, ?, ?, ?, ?)

-- name: current_delegations
-- Every delegation not ended at the given moment (active now or ahead), by approver and start.
SELECT account_id, delegate_id, starts_at, ends_at, set_by, set_at FROM delegations
WHERE ends_at > ? ORDER BY account_id, starts_at

-- name: clear_delegations
-- An approver's delegations not ended yet (the ended ones are history).
DELETE FROM delegations WHERE account_id = ? AND ends_at > ?
