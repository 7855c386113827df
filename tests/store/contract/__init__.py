"""The storage contract: every engine behind the same ports behaves the same (``engine``
fixture: SQLite and PostgreSQL). Time is passed in, never waited for."""
