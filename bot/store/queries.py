"""Named queries: every SQL statement of an engine, read once from its package's ``sql/*.sql``.

Each engine has its own set (``bot/store/sql`` for SQLite, ``bot/store/postgres/sql`` for
PostgreSQL) under the same names, each in its own dialect: :class:`Queries` declares the names the
repository code uses (``tx.sql.get_request``), and both sets must define exactly those. An
engine's own statements (connection setup, transactions, migrations, the probe) live in its
``engine.sql``, declared by that engine's own class.

Each file holds named queries, as procrastinate keeps its own::

    -- name: get_request
    -- Optional comment lines right after the name describe the query.
    SELECT * FROM requests WHERE id = ?

The names are declared below as attributes of :class:`Queries`, so a caller's typo is a type
error, and loading fails at import when a file names a query twice, names one nobody declared, or
misses a declared one. Parameters are ``?`` (positional) or ``:name`` (named) in both sets; the
PostgreSQL engine numbers them for its driver. Templates (a ``{placeholder}`` in the text) are filled only with fragments
that live in the same files, or with generated lists of ``?``/``:name`` placeholders, never values.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import get_type_hints

from bot.errors import StoreError

_HEADER = re.compile(r"^-- name: ([a-z][a-z0-9_]*)[ \t]*$", re.MULTILINE)


def parse(text: str, source: str) -> dict[str, str]:
    """The named queries of one file's text (comment lines may open the file); StoreError on a
    duplicate name, an empty query or SQL before the first name."""
    parts = _HEADER.split(text)
    if any(line.strip() and not line.startswith("--") for line in parts[0].splitlines()):
        raise StoreError(f"{source}: SQL before the first '-- name:' header")
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise StoreError(f"{source}: query {name} is named twice")
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):  # the query's description
            lines.pop(0)
        sql = "\n".join(lines).strip().removesuffix(";").rstrip()
        if not sql:
            raise StoreError(f"{source}: query {name} is empty")
        queries[name] = sql
    return queries


ENGINE_FILE = "engine.sql"


def load_all(package: str = "bot.store") -> dict[str, str]:
    """Every named query of the package's ``sql/*.sql`` files but its ``engine.sql``;
    StoreError on a duplicate."""
    found: dict[str, str] = {}
    for entry in sorted(files(package).joinpath("sql").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or entry.name == ENGINE_FILE:
            continue
        for name, sql in parse(entry.read_text(encoding="utf-8"), entry.name).items():
            if name in found:
                raise StoreError(f"{entry.name}: query {name} is also named in another file")
            found[name] = sql
    return found


def load_engine(package: str) -> dict[str, str]:
    """The named queries of the package's ``sql/engine.sql``: the engine's own statements."""
    entry = files(package).joinpath("sql").joinpath(ENGINE_FILE)
    return parse(entry.read_text(encoding="utf-8"), f"{package}/{ENGINE_FILE}")


def one_line(sql: str) -> str:
    """The query on one line (for a log line or an error message)."""
    return " ".join(sql.split())


class NamedQueries:
    """A set of named queries, one declared attribute each; loading checks the declarations
    against the files (see the module docstring)."""

    def __init__(self, queries: dict[str, str]) -> None:
        declared = set(get_type_hints(type(self)))
        missing, unknown = declared - queries.keys(), queries.keys() - declared
        if missing or unknown:
            raise StoreError(
                f"SQL files and {type(self).__name__} disagree: missing {sorted(missing)}, "
                f"undeclared {sorted(unknown)}"
            )
        for name, sql in queries.items():
            setattr(self, name, sql)


class SqliteEngineQueries(NamedQueries):
    """``bot/store/sql/engine.sql``: the SQLite engine's connection setup, transactions,
    migration runner and readiness probe."""

    pragma_busy_timeout: str
    pragma_journal_wal: str
    pragma_synchronous_full: str
    pragma_foreign_keys: str
    begin_write: str
    begin_read: str
    commit: str
    savepoint: str
    rollback_to_savepoint: str
    release_savepoint: str
    create_schema_migrations: str
    schema_version: str
    record_migration: str
    write_probe: str


class Queries(NamedQueries):
    """The repository queries every engine defines under these names (its own dialect)."""

    # approvals.sql: requests, deliveries, decisions, metrics
    insert_request: str
    get_request: str
    request_status: str
    find_request: str
    get_request_by_decision: str
    decision_of_request: str
    close_request: str
    lock_request: str
    lock_request_exclusive: str
    due_for_expiry: str
    insert_delivery: str
    insert_delivery_event: str
    get_delivery: str
    deliveries_of_request: str
    events_of_deliveries: str
    set_delivery_state: str
    queued_deliveries_of_channel: str
    insert_decision: str
    set_forward_state: str
    request_counts: str
    delivery_counts: str
    # votes.sql
    add_vote: str
    votes_of_request: str
    # outbox.sql
    enqueue: str
    claim: str
    claim_kind_in: str
    complete: str
    reschedule: str
    defer: str
    release: str
    bury: str
    outbox_depth: str
    wake_channel_jobs: str
    cancel_steps: str
    # answers.sql: signed answers (idempotency) and callback replay memory
    recall_answer: str
    claim_answer: str
    keep_answer: str
    forget_answers: str
    sealed_answers: str
    reseal_answer: str
    sweep_callback_replays: str
    take_callback_replay: str
    release_callback_replay: str
    # bindings.sql: bindings, binding codes, preferences, email verifications
    binding_address: str
    binding_owner: str
    upsert_binding: str
    bindings_of_account: str
    bindings_page: str
    bindings_unbound_on: str
    bindings_on: str
    bindings_after: str
    remove_binding: str
    sweep_binding_codes: str
    insert_binding_code: str
    take_binding_code: str
    route_preference: str
    get_preferences: str
    upsert_preferences: str
    sweep_email_verifications: str
    put_email_verification: str
    drop_email_verification: str
    pending_email_verification: str
    count_email_attempt: str
    # secrets.sql: sealed secrets, channel authorizations, API tokens
    put_sealed: str
    get_sealed: str
    zero_sealed: str
    delete_sealed: str
    all_sealed: str
    all_authorizations: str
    upsert_authorization: str
    insert_token: str
    resolve_token: str
    list_tokens: str
    revoke_token: str
    # audit.sql: the audit log and usage metering
    insert_audit: str
    audit_page: str
    audit_action: str
    audit_who: str
    audit_target: str
    audit_before: str
    audit_since: str
    audit_until: str
    meter: str
    usage_by_day: str
    usage_by_account: str
    usage_channel: str
    usage_totals: str
    # limits.sql: platform rate budgets shared by every replica
    seed_budgets: str
    read_budgets: str
    set_budget: str
    sweep_budgets: str


SQLITE = Queries(load_all("bot.store"))
"""The SQLite engine's repository queries (``bot/store/sql``)."""
SQLITE_ENGINE = SqliteEngineQueries(load_engine("bot.store"))
"""The SQLite engine's own statements (``bot/store/sql/engine.sql``)."""
