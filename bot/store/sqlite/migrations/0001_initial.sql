-- requests, deliveries, decisions, outbox, intake, replay guard, bindings, tokens

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    ticket TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    closed_at TEXT,
    close_reason TEXT
);
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE status = 'pending';

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    account_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    external_ref TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX deliveries_request ON deliveries (request_id);

CREATE TABLE delivery_events (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES requests (id),
    outcome TEXT NOT NULL,
    account_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    comment TEXT,
    decided_at TEXT NOT NULL,
    source TEXT NOT NULL,
    forward_state TEXT NOT NULL,
    forward_detail TEXT,
    forwarded_at TEXT
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';

CREATE TABLE intake (
    key TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE seen_signatures (
    key TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

CREATE TABLE bindings (
    account_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    bound_by TEXT NOT NULL,
    method TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    PRIMARY KEY (account_id, channel)
);
CREATE INDEX bindings_address ON bindings (channel, address);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
