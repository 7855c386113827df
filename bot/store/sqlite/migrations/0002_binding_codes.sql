-- single-use binding codes for self-service binding over chat

CREATE TABLE binding_codes (
    code_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX binding_codes_expiry ON binding_codes (expires_at);
