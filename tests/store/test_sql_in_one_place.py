"""All SQL lives in ``.sql`` files, each text once: the queries both engines run as written in
``bot/store/sql/*.sql``, an engine's own dialect in its package's ``sql/*.sql`` (SQLite:
``bot/store/sqlite/sql``, migrations ``bot/store/sqlite/migrations/``; PostgreSQL:
``bot/store/postgres/sql`` and ``.../migrations``). No Python source of the product holds a SQL
statement or fragment, no text is written identically in two engines' files, both engines
define the same query names, the named queries load by name, and a broken query file fails
loading instead of failing a request later."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import queries
from bot.store.postgres.queries import POSTGRES
from bot.store.queries import Queries, parse
from bot.store.sqlite.queries import SQLITE, SQLITE_ENGINE
from bot.store.sqlite.store import LATEST, MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]
# A statement's opening words, a clause fragment ("AND x = ?") or a transaction verb, in the
# upper case the project writes SQL in; prose ("select one from the list") does not match.
SQL_TEXT = re.compile(
    r"\bSELECT\b.+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|UNIQUE|VIEW|TRIGGER)\b"
    r"|^\s*SELECT\s+\S|\bPRAGMA\s+\w+|^\s*(BEGIN|COMMIT|ROLLBACK)(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE))?\s*$"
    r"|\b(AND|OR|WHERE)\s+\(?[a-z_.]+(,\s*[a-z_.]+)*\)?\s*(=|<|>|<=|>=|IN|NOT IN)\s*[?:(]",
    re.DOTALL,
)
ALLOWED = {ROOT / "bot" / "store" / "queries.py"}  # its docstring shows the file format
# Sample tickets are database-change requests: their titles are MySQL that approvers read on a
# card and nobody runs. Allowed by file and exact opening, so any other SQL still fails.
SAMPLE_TICKETS = {
    ("bot/http/sendtest.py", "ALTER TABLE orders ADD INDEX idx_created_at (created_at)"),
    ("cards/samples.py", "ALTER TABLE orders ADD INDEX idx_orders_customer_created"),
}


def sql_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``path`` that reads as SQL."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SQL_TEXT.search(node.value)
    ]


def test_no_python_source_of_the_product_holds_sql() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for package in ("bot", "cards")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path not in ALLOWED
        for line, text in sql_strings(path)
        if not any(
            str(path.relative_to(ROOT)) == where and text.startswith(opening)
            for where, opening in SAMPLE_TICKETS
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id FROM requests WHERE status = ?",
        "INSERT OR REPLACE INTO t (a) VALUES (?)",
        "UPDATE outbox SET state = 'done'",
        "DELETE FROM bindings",
        "CREATE INDEX i ON t (a)",
        "PRAGMA foreign_keys = ON",
        "SELECT current_schema()",
        "SELECT 1",
        "BEGIN IMMEDIATE",
        " AND channel = ?",
        "AND (account_id, channel) > (?, ?)",
    ],
)
def test_the_scan_sees_inline_sql(tmp_path: Path, text: str) -> None:
    module = tmp_path / "inline.py"
    module.write_text(f"QUERY = {text!r}\n")
    assert [line for line, _ in sql_strings(module)] == [1]


def test_the_scan_leaves_prose_alone(tmp_path: Path) -> None:
    module = tmp_path / "prose.py"
    module.write_text(
        'HELP = "select the channel from the list, then update the card"\n'
        'BEGIN = "begin here"\nMSG = "Deleted from the store; created a token"\n'
    )
    assert sql_strings(module) == []


ENGINES = ("bot.store.sqlite", "bot.store.postgres")


def test_both_engines_define_the_same_query_names() -> None:
    sqlite_names, postgres_names = (queries.load_all(engine) for engine in ENGINES)
    assert sqlite_names.keys() == postgres_names.keys()
    assert sqlite_names.keys() == set(Queries.__annotations__)
    # Each engine's own dialect: the same name, not the same text, where the dialects differ.
    assert SQLITE.zero_sealed != POSTGRES.zero_sealed and "SKIP LOCKED" in POSTGRES.claim
    # A shared query is the very same text on both.
    assert SQLITE.bindings_page == POSTGRES.bindings_page
    # An engine's own statements (engine.sql) are not repository queries.
    assert "pragma_foreign_keys" not in sqlite_names and "migration_lock" not in postgres_names


@pytest.mark.parametrize("engine", [False, True], ids=["repository", "engine.sql"])
def test_no_query_text_is_written_identically_in_two_engines_files(engine: bool) -> None:
    sqlite, postgres = (queries.load_files(package, engine=engine) for package in ENGINES)
    twice = sorted(name for name, sql in sqlite.items() if postgres.get(name) == sql)
    assert twice == []  # each belongs once, in bot/store/sql (engine.sql for engine statements)
    # Where a name is an engine's own, every engine has its own text of it.
    if not engine:
        assert sqlite.keys() == postgres.keys()


def test_an_engine_naming_a_shared_query_again_fails_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "stray_engine"
    (package / "sql").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sql" / "approvals.sql").write_text("-- name: request_status\nSELECT 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StoreError, match=r"names shared queries again: \['request_status'\]"):
        queries.load_all("stray_engine")


def test_every_named_query_is_valid_sql_against_the_schema() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(SQLITE_ENGINE.create_schema_migrations)
    for _, _, script in MIGRATIONS:
        conn.executescript(script)
    found = queries.load_all("bot.store.sqlite")
    # A fragment ("AND ...") goes into the templates of its area (the name's first word).
    fragments = {name: sql for name, sql in found.items() if sql.startswith("AND ")}
    for name, sql in found.items():
        if name in fragments or name.startswith("begin_"):
            continue  # fragments are planned inside their templates; BEGIN cannot be EXPLAINed
        area = [f for n, f in fragments.items() if n.split("_")[0] == name.split("_")[0]]
        for fragment in ["", *area] if "{" in sql else [""]:
            part = f" {fragment.format(marks='?')}" if fragment else ""
            text = sql.format(ms="1", marks="?", rows="(?, 0)", kinds=part, filters=part)
            try:
                conn.execute(f"EXPLAIN {text}")
            except sqlite3.ProgrammingError:
                pass  # parsed and planned; only the parameters were not bound
            except sqlite3.OperationalError as exc:
                pytest.fail(f"{name} with {fragment!r}: {exc}")


def test_the_migrations_are_the_sql_files_in_version_order() -> None:
    versions = [version for version, _, _ in MIGRATIONS]
    assert (
        versions == [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
        and LATEST == 23
    )
    assert MIGRATIONS[0][1].startswith("requests, deliveries, decisions, outbox")


def test_a_query_file_with_a_duplicate_or_stray_text_is_refused() -> None:
    with pytest.raises(StoreError, match="named twice"):
        parse("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "x.sql")
    with pytest.raises(StoreError, match="before the first"):
        parse("SELECT 1\n-- name: a\nSELECT 2\n", "x.sql")
    assert parse("-- file comment\n\n-- name: a\n-- what a does\nSELECT 1;\n", "x.sql") == {
        "a": "SELECT 1"
    }


def test_a_declared_query_missing_from_the_files_fails_loading() -> None:
    found = queries.load_all("bot.store.sqlite")
    del found["get_request"]
    with pytest.raises(StoreError, match="missing \\['get_request'\\]"):
        Queries(found)
    with pytest.raises(StoreError, match="undeclared \\['extra'\\]"):
        Queries({**queries.load_all("bot.store.sqlite"), "extra": "SELECT 1"})
    assert SQLITE.get_request == "SELECT * FROM requests WHERE id = ?"
