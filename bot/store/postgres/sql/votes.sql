-- The approvers' votes (bot.store.repos.votes), one per request, stage and account.

-- name: add_vote
-- A second vote of the same account in the same stage (a double tap) changes nothing.
INSERT INTO votes (request_id, stage, account_id, outcome, comment, display_name, channel, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (request_id, stage, account_id) DO NOTHING

-- name: votes_of_request
SELECT stage, account_id, outcome, comment, display_name, channel, at FROM votes
WHERE request_id = ? ORDER BY at, stage, account_id
