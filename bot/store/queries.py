"""Named queries: every SQL statement of an engine, read once from ``.sql`` files.

A query both engines run with the same text is written once, in ``bot/store/sql/<area>.sql``
(shared); an engine keeps its own text, in its package's ``sql/<area>.sql``
(``bot/store/sqlite/sql``, ``bot/store/postgres/sql``), only where its dialect differs. A name is
in the shared files or in every engine's own, never both (loading refuses it), so a fix to a
shared query cannot miss one engine, and an engine's own query cannot silently shadow a shared
one. :class:`Queries` declares the names the repository code uses (``tx.sql.get_request``);
each engine's set (shared + own) must define exactly those. An engine's own statements
(connection setup, transactions, migrations, the probe) live in its ``sql/engine.sql``, declared
by that engine's own class, those both engines run as written in ``bot/store/sql/engine.sql``.

Each file holds named queries in aiosql's format, which procrastinate keeps too::

    -- name: get_request
    -- Comment lines under the name describe the query.
    SELECT * FROM requests WHERE id = ?

aiosql's parser is the reference (:func:`parse`); only its text of each query is used
(``tx.sql.<name>`` stays a string), because the repositories run the statements through the
engine's own primitives (``bot.store.tx.EngineTx``: one group-committed SQLite connection, a pool
of asyncpg transactions) rather than aiosql's generated functions, and fill the
``{placeholder}`` templates first. A file that keeps to the plain part of the format (names
without parameter lists or operation suffixes, no ``/* */`` comments, as every file here does)
is read by :func:`read_plain`, which gives aiosql's texts in a thirtieth of its time and without
importing it (command-line start-up pays for every file); anything else goes to aiosql itself,
its errors included. ``tests/store/test_query_reader.py`` checks that both agree. On top of aiosql, loading also refuses SQL before a file's first name and a name given
twice in the set (aiosql keeps the last one), and checks the names against the declarations:
a caller's typo is a type error, and a file that misses a declared query or names an undeclared
one fails at import. Parameters are ``?`` (positional) or ``:name`` (named) on every engine;
the PostgreSQL engine numbers them for its driver (``bot.store.postgres.tx.numbered``: aiosql's
asyncpg adapter would rewrite ``:name`` only, not ``?``). Templates (a ``{placeholder}`` in the
text) are filled only with fragments that live in the same files, or with generated lists of
``?``/``:name`` placeholders, never values.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import get_type_hints

from bot.errors import StoreError

_HEADER = re.compile(r"^--\s*name\s*:", re.MULTILINE)
# aiosql's own patterns: where a query's name begins, and a comment line (its documentation).
_QUERY_DEF = re.compile(r"--\s*name\s*:\s*")
_SQL_COMMENT = re.compile(r"\s*--\s*(.*)$")
# A name aiosql takes as it is: no parameter list, no operation suffix, no "-" to rewrite.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SHARED = "bot.store"  # its sql/ holds the queries every engine runs as they are
ENGINE_FILE = "engine.sql"


def parse(text: str, source: str) -> dict[str, str]:
    """The named queries of one file's text (comment lines may open the file); StoreError on a
    duplicate name, an empty query or SQL before the first name."""
    head = _HEADER.split(text, maxsplit=1)[0]
    if any(line.strip() and not line.lstrip().startswith("--") for line in head.splitlines()):
        raise StoreError(f"{source}: SQL before the first '-- name:' header")
    plain = read_plain(text)
    return plain if plain is not None else _parse_with_aiosql(text, source)


def read_plain(text: str) -> dict[str, str] | None:
    """aiosql's texts of a file in the plain part of its format (see the module docstring), by
    name; None for anything else (a parameter list or operation suffix, a ``/* */`` comment, a
    name given twice, an empty query), which only aiosql reads."""
    if "/*" in text:  # aiosql strips block comments (outside strings, not hints): its part
        return None
    queries: dict[str, str] = {}
    for part in _QUERY_DEF.split(text)[1:]:
        # As aiosql does: the name on the first line, comment lines out, the rest the SQL.
        lines = [line.rstrip() for line in part.strip().splitlines()]
        if len(lines) < 2 or not _PLAIN_NAME.fullmatch(lines[0]) or lines[0] in queries:
            return None
        sql = "\n".join(line for line in lines[1:] if not _SQL_COMMENT.match(line)).strip()
        if not sql.strip("\t\n\r ;"):
            return None
        queries[lines[0]] = sql.removesuffix(";").rstrip()
    return queries


def _parse_with_aiosql(text: str, source: str) -> dict[str, str]:
    from aiosql.adapters.generic import GenericAdapter
    from aiosql.query_loader import QueryLoader
    from aiosql.utils import SQLParseException

    # The generic adapter leaves each text as written (no parameter rewriting). Its constructor
    # has no annotations in aiosql 15, hence the ignore.
    loader = QueryLoader(GenericAdapter(), None, mandatory_parameters=False)  # type: ignore[no-untyped-call]
    try:
        data = loader.load_query_data_from_sql(text, [], source)
    except SQLParseException as exc:
        raise StoreError(f"{source}: {exc}") from exc
    queries: dict[str, str] = {}
    for datum in data:
        if datum.query_name in queries:
            raise StoreError(f"{source}: query {datum.query_name} is named twice")
        queries[datum.query_name] = datum.sql.removesuffix(";").rstrip()
    return queries


def load_files(package: str, *, engine: bool = False) -> dict[str, str]:
    """Every named query of the package's ``sql/*.sql`` files but its ``engine.sql`` (``engine``:
    of that file alone); StoreError on a name in two files."""
    root = files(package).joinpath("sql")
    found: dict[str, str] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or (entry.name == ENGINE_FILE) != engine:
            continue
        where = f"{package}/sql/{entry.name}"
        for name, sql in parse(entry.read_text(encoding="utf-8"), where).items():
            if name in found:
                raise StoreError(f"{where}: query {name} is also named in another file")
            found[name] = sql
    return found


def load_all(package: str, *, engine: bool = False) -> dict[str, str]:
    """An engine's repository queries (``engine``: its own statements, the ``engine.sql`` files):
    the shared ones and the engine package's own; StoreError when the engine names a shared
    query again (a query is either shared or each engine's own)."""
    shared, own = load_files(SHARED, engine=engine), load_files(package, engine=engine)
    both = sorted(shared.keys() & own.keys())
    if both:
        raise StoreError(
            f"{package}/sql names shared queries again: {both} (keep one text: in bot/store/sql "
            "when every engine runs it as it is, else in each engine's own files)"
        )
    return {**shared, **own}


def load_engine(package: str) -> dict[str, str]:
    """An engine's own statements: the shared ``bot/store/sql/engine.sql`` and its own."""
    return load_all(package, engine=True)


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


class Queries(NamedQueries):
    """The repository queries every engine defines under these names: shared, or in its own
    dialect."""

    # approvals.sql: requests, deliveries, decisions, metrics
    insert_request: str
    get_request: str
    request_status: str
    find_request: str
    get_request_by_decision: str
    decision_of_request: str
    close_request: str
    set_roster_changes: str
    lock_request: str
    lock_request_exclusive: str
    request_for_vote: str
    due_for_expiry: str
    insert_delivery: str
    insert_delivery_event: str
    get_delivery: str
    delivery_head: str
    deliveries_of_request: str
    events_of_deliveries: str
    set_delivery_state: str
    queued_deliveries_of_channel: str
    insert_decision: str
    insert_forwarded_decision: str
    set_forward_state: str
    request_counts: str
    delivery_counts: str
    # votes.sql
    add_vote: str
    votes_of_request: str
    # delegations.sql
    add_delegation: str
    current_delegations: str
    clear_delegations: str
    # steps.sql
    start_step: str
    step_state: str
    finish_step: str
    release_step: str
    # outbox.sql
    enqueue: str
    enqueue_redraw: str
    claim: str
    claim_kind_in: str
    claim_channel_in: str
    complete: str
    reschedule: str
    defer: str
    release: str
    bury: str
    outbox_depth: str
    wake_channel_jobs: str
    cancel_steps: str
    request_jobs: str
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
    route_facts: str
    routes_at: str
    binding_owner: str
    first_bound_on: str
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
    set_budgets: str
    sweep_budgets: str
