-- outbox lanes per platform: a card job names its channel, so each platform's redraws are claimed apart
-- A platform's paced calls (Lark's PATCH at its 50/s, DingTalk's card update at its 20/s) wait
-- for that platform's budget only: claimed in one queue by due time, a DingTalk redraw waited
-- behind every Lark redraw queued before it. '' for a job of no channel (and those queued
-- before this migration, claimed by the lane of every other update as before).
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_due_by_channel ON outbox (kind, channel, next_attempt_at) WHERE state = 'pending';
