-- outbox lanes: pending jobs indexed by kind, so each lane claims its own without a scan

CREATE INDEX outbox_due_by_kind ON outbox (kind, next_attempt_at) WHERE state = 'pending';
