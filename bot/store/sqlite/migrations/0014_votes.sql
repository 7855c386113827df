-- The approvers' votes on multi-approver requests (README "Multi-approver policies"): the
-- primary key makes a double tap, or the same tap on two replicas, count once.
CREATE TABLE votes (
    request_id TEXT NOT NULL REFERENCES requests (id),
    stage INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    comment TEXT,
    display_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request_id, stage, account_id)
);
