-- who joined a pending request after it started: added approvers, hand-overs
-- A JSON list of bot.core.models.RosterChange, applied to the ticket (kept as submitted) when
-- the request is read; written under the request's lock with the newcomers' cards.
ALTER TABLE requests ADD COLUMN roster_changes TEXT NOT NULL DEFAULT '[]';
