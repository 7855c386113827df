-- Connection setup, transactions, the migration runner and the readiness probe.
-- (SQLite takes no bound parameter in a PRAGMA: busy_timeout is filled from an int.)

-- name: pragma_busy_timeout
PRAGMA busy_timeout = {ms}

-- name: pragma_journal_wal
PRAGMA journal_mode = WAL

-- name: pragma_synchronous_full
PRAGMA synchronous = FULL

-- name: pragma_foreign_keys
PRAGMA foreign_keys = ON

-- name: begin_write
-- Take the write lock at once: a second process waits here instead of failing mid-transaction.
BEGIN IMMEDIATE

-- name: begin_read
-- Deferred: in WAL mode a consistent snapshot that never blocks a writer.
BEGIN

-- name: commit
COMMIT

-- name: savepoint
-- One write() part inside a shared (group-committed) transaction. Parts run one after the
-- other, each released before the next begins, so they never nest and share the name.
SAVEPOINT part

-- name: rollback_to_savepoint
ROLLBACK TO part

-- name: release_savepoint
RELEASE part
