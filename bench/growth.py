"""Growth: the same measurements at 0 and at many pending requests, seeded fast.

Seeding goes through the API once (a template request, its delivery sent) and then copies
every database row that names the template's ids, with fresh ids, in one transaction straight
into the SQLite file: a pending request as the gateway itself stores it, without spending
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
    deadline = time.perf_counter() + 60
    while not await asyncio.to_thread(template_settled, db, ids):
        if time.perf_counter() > deadline:
            raise RuntimeError("the template request's card was not sent within 60 s")
        await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    inserted = await asyncio.to_thread(seed_sqlite, db, ids, pending - 1)
    result = {"pending": pending, "seconds": time.perf_counter() - t0, "rows": inserted}
    run.raw["seed"] = result
    return result
