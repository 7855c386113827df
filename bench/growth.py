"""Growth: the same measurements at 0 and at many pending requests, seeded fast.

Seeding goes through the API once (a template request, its delivery sent) and then copies
every database row that names the template's ids, with fresh ids, in transactions of 5,000
copies straight into the SQLite file, or on PostgreSQL by the server itself (``INSERT ...
SELECT`` from a temp table of the template's rows over ``generate_series``, the statements in
``bench/sql/``): a pending request as the gateway itself stores it, without spending
minutes of intake on it. Columns are read from the schema, so new migrations need no change
here; an ``INTEGER PRIMARY KEY`` gets a new rowid.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.load import signed_submit
from bench.pgdb import statement
from bench.run import Run

SKIP = {"schema_migrations", "sqlite_sequence"}
CHUNK = 5_000


def _tables(conn: sqlite3.Connection) -> list[str]:
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [n for (n,) in names if n not in SKIP]


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    # (name, declared type, is the rowid alias)
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    return [(c[1], str(c[2]).upper(), bool(c[5]) and str(c[2]).upper() == "INTEGER") for c in info]


def _template_rows(
    conn: sqlite3.Connection, ids: list[str]
) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Per table: the columns and every row with a text column holding one of ``ids``."""
    found: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for table in _tables(conn):
        columns = _columns(conn, table)
        texts = [name for name, kind, _ in columns if "TEXT" in kind]
        if not texts:
            continue
        where = " OR ".join(f"instr({c}, ?) > 0" for c in texts for _ in ids)
        params = [i for _ in texts for i in ids]
        rows = conn.execute(f"SELECT * FROM {table} WHERE {where}", params).fetchall()
        if rows:
            found[table] = ([c[0] for c in columns], [tuple(r) for r in rows])
    return found


def _copy(value: Any, ids: list[str], suffix: str) -> Any:
    if isinstance(value, str):
        for old in ids:
            value = value.replace(old, old + suffix)
    return value


def seed_sqlite(db: Path, ids: list[str], copies: int) -> dict[str, int]:
    """Insert ``copies`` copies of the rows naming ``ids``; rows inserted per table."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        template = _template_rows(conn, ids)
        inserted: dict[str, int] = dict.fromkeys(template, 0)
        # In chunks: the running gateway's own writes wait at most one chunk, well inside its
        # busy timeout.
        for start in range(0, copies, CHUNK):
            conn.execute("BEGIN IMMEDIATE")
            for table, count in _insert(
                conn, template, ids, range(start, min(copies, start + CHUNK))
            ).items():
                inserted[table] += count
            conn.execute("COMMIT")
        return inserted
    finally:
        conn.close()


def _insert(
    conn: sqlite3.Connection,
    template: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    ids: list[str],
    copies: range,
) -> dict[str, int]:
    inserted = {}
    for table, (names, rows) in template.items():
        rowid = {n for n, _, alias in _columns(conn, table) if alias}
        marks = ", ".join("?" for _ in names)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
        batch = [
            tuple(
                None if n in rowid else _copy(v, ids, f"-s{k}")
                for n, v in zip(names, row, strict=True)
            )
            for k in copies
            for row in rows
        ]
        conn.executemany(sql, batch)
        inserted[table] = len(batch)
    return inserted


def template_settled(db: Path, ids: list[str]) -> bool:
    """Whether every outbox job of the template is done (so the copies queue no work)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    try:
        found = _template_rows(conn, ids).get("outbox")
        if found is None:
            return False
        names, rows = found
        state = names.index("state")
        return all(row[state] == "done" for row in rows)
    finally:
        conn.close()


async def seed(run: Run, pending: int) -> dict[str, Any]:
    """One template request through the API, then ``pending - 1`` copies of its rows."""
    ticket = run.ids("seed", 1)[0]
    status, receipt, _ = await run.host.submit(
        signed_submit(run.host.secret, ticket, [("m-seed", "cn")])
    )
    assert status == 202, receipt
    ids = [ticket, receipt["request_id"], *(d["delivery_id"] for d in receipt["deliveries"])]
    db = run.data_dir / "gateway.db"
    url = run.database_url
    deadline = time.perf_counter() + 60
    while not (
        await pg_settled(url, ids) if url else await asyncio.to_thread(template_settled, db, ids)
    ):
        if time.perf_counter() > deadline:
            raise RuntimeError("the template request's card was not sent within 60 s")
        await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    if url:
        inserted = await seed_postgres(url, ids, pending - 1)
    else:
        inserted = await asyncio.to_thread(seed_sqlite, db, ids, pending - 1)
    result = {"pending": pending, "seconds": time.perf_counter() - t0, "rows": inserted}
    run.raw["seed"] = result
    return result


# -- PostgreSQL: the same copies, made by the server (INSERT ... SELECT over generate_series) --

TEXTS = {"text", "character varying", "character"}
JSONS = {"json", "jsonb"}


async def _pg_columns(conn: Any, table: str) -> list[tuple[str, str, bool]]:
    rows = await conn.fetch(statement("pg_columns"), table)
    return [(r["column_name"], r["data_type"], bool(r["generated"])) for r in rows]


def _pg_where(columns: list[tuple[str, str, bool]], ids: list[str]) -> str:
    """Rows with a text or JSON column naming one of ``ids`` (``$n`` is ``ids[n - 1]``)."""
    names = [n for n, kind, _ in columns if kind in TEXTS | JSONS]
    return " OR ".join(f'strpos("{n}"::text, ${k + 1}) > 0' for n in names for k in range(len(ids)))


def _pg_value(name: str, kind: str, ids: list[str]) -> str:
    """The copy ``k``'s value of a column: every template id suffixed with ``-s<k>``."""
    if kind not in TEXTS | JSONS:
        return f'"{name}"'
    expr = f'"{name}"::text'
    for k in range(len(ids)):
        expr = f"replace({expr}, ${k + 3}, ${k + 3} || '-s' || k)"
    return f"({expr})::{kind}" if kind in JSONS else expr


async def _pg_tables(conn: Any) -> list[str]:
    """The schema's tables, each after the tables its foreign keys point at."""
    tables = [r["table_name"] for r in await conn.fetch(statement("pg_tables"))]
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for r in await conn.fetch(statement("pg_foreign_keys")):
        if r["child"] in parents and r["parent"] != r["child"]:
            parents[r["child"]].add(r["parent"])
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        ordered += ready or [t for t in tables if t not in ordered]  # a cycle: as listed
    return ordered


async def _pg_templates(conn: Any, ids: list[str]) -> dict[str, list[tuple[str, str, bool]]]:
    """Copy the template's rows of each table into a temp table; the columns of each, in an
    order the foreign keys accept."""
    found = {}
    for table in await _pg_tables(conn):
        columns = await _pg_columns(conn, table)
        where = _pg_where(columns, ids)
        if not where:
            continue
        sql = statement("pg_template").format(template=f"tpl_{table}", table=table, where=where)
        await conn.execute(sql, *ids)
        if await conn.fetchval(statement("pg_count").format(table=f"tpl_{table}")):
            found[table] = columns
    return found


async def seed_postgres(url: str, ids: list[str], copies: int) -> dict[str, int]:
    """Insert ``copies`` copies of the rows naming ``ids``; rows inserted per table."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        templates = await _pg_templates(conn, ids)
        inserted = dict.fromkeys(templates, 0)
        for start in range(0, copies, CHUNK):
            end = min(copies, start + CHUNK) - 1
            async with conn.transaction():  # in chunks, as on SQLite
                for table, columns in templates.items():
                    kept = [(n, kind) for n, kind, generated in columns if not generated]
                    sql = statement("pg_copies").format(
                        table=table,
                        columns=", ".join(f'"{n}"' for n, _ in kept),
                        values=", ".join(_pg_value(n, kind, ids) for n, kind in kept),
                        template=f"tpl_{table}",
                    )
                    done = await conn.execute(sql, start, end, *ids)
                    inserted[table] += int(done.rsplit(" ", 1)[1])
        return inserted
    finally:
        await conn.close()


async def pg_settled(url: str, ids: list[str]) -> bool:
    """Whether every outbox job of the template is done (PostgreSQL)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        where = _pg_where(await _pg_columns(conn, "outbox"), ids)
        rows = await conn.fetch(statement("pg_select").format(table="outbox", where=where), *ids)
        return bool(rows) and all(r["state"] == "done" for r in rows)
    finally:
        await conn.close()


async def analyze(url: str) -> float:
    """ANALYZE the run's database (what autovacuum does after a bulk load); seconds taken."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        t0 = time.perf_counter()
        await conn.execute(statement("analyze"))
        return time.perf_counter() - t0
    finally:
        await conn.close()
