-- sealed secrets, channel authorizations with consent, audit log

CREATE TABLE sealed_secrets (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    blob BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE channel_authorizations (
    channel TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    notice_version TEXT NOT NULL
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_action ON audit (action, id);
