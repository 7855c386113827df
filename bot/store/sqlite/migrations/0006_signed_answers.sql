-- answers to signed requests kept by request id (idempotency and replay memory)

DROP TABLE intake;
DROP TABLE seen_signatures;
CREATE TABLE signed_answers (
    request_id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT,
    key_id TEXT,
    body BLOB,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX signed_answers_expiry ON signed_answers (expires_at);
