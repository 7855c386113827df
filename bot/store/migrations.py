"""Schema versions for the SQLite store, applied in order and recorded in ``schema_migrations``.

Never edit a released migration: add the next one. Timestamps are stored as fixed-width UTC
ISO strings (see ``bot.store.codec``), so text comparison is time comparison.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "requests, deliveries, decisions, outbox, intake, replay guard, bindings, tokens",
        """
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
        """,
    ),
]

MIGRATIONS.append(
    (
        2,
        "single-use binding codes for self-service binding over chat",
        """
        CREATE TABLE binding_codes (
            code_hash TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX binding_codes_expiry ON binding_codes (expires_at);
        """,
    )
)

MIGRATIONS.append(
    (
        3,
        "sealed secrets, channel authorizations with consent, audit log",
        """
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
        CREATE INDEX audit_action ON audit (action, id)
        """,
    )
)

MIGRATIONS.append(
    (
        4,
        "per-account channel preferences and email subscription, pending email verifications",
        """
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
        """,
    )
)

MIGRATIONS.append(
    (
        5,
        "usage metering: messages sent and updated per day, channel and account",
        """
        CREATE TABLE usage (
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            account_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel, account_id, kind)
        );
        CREATE INDEX usage_channel_day ON usage (channel, day)
        """,
    )
)

MIGRATIONS.append(
    (
        6,
        "answers to signed requests kept by request id (idempotency and replay memory)",
        """
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
        CREATE INDEX signed_answers_expiry ON signed_answers (expires_at)
        """,
    )
)

MIGRATIONS.append(
    (
        7,
        "replay memory of the platforms' HTTP callbacks, kept for the whole accepted window",
        """
        CREATE TABLE callback_replays (
            key TEXT PRIMARY KEY,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX callback_replays_expiry ON callback_replays (expires_at)
        """,
    )
)

MIGRATIONS.append(
    (
        8,
        "outbox lanes: pending jobs indexed by kind, so each lane claims its own without a scan",
        """
        CREATE INDEX outbox_due_by_kind ON outbox (kind, next_attempt_at) WHERE state = 'pending'
        """,
    )
)

MIGRATIONS.append(
    (
        10,
        "write probe: one row that readiness rewrites to prove the store can write",
        """
        CREATE TABLE write_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            at TEXT NOT NULL
        )
        """,
    )
)

# The highest version, whatever order the list was extended in.
LATEST = max(version for version, _, _ in MIGRATIONS)
