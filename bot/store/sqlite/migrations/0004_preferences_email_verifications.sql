-- per-account channel preferences and email subscription, pending email verifications

CREATE TABLE account_preferences (
    account_id TEXT PRIMARY KEY,
    channel_order TEXT,
    email_enabled INTEGER NOT NULL DEFAULT 1,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE email_verifications (
    account_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
