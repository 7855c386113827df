"""Each outbox lane's claim is served by the (kind, next_attempt_at) index of pending jobs, so a
claim costs the same behind any backlog of another lane's jobs (a lane that excluded kinds
walked past every queued card on each claim)."""

from __future__ import annotations

import sqlite3

from bot.core.jobs import JOB_KINDS, lanes
from bot.store.sqlite.queries import SQLITE, SQLITE_ENGINE
from bot.store.sqlite.store import MIGRATIONS

LANES = lanes(forwards=1, updates=1, sends=1)


def _plan(conn: sqlite3.Connection, kinds: tuple[str, ...]) -> str:
    params: dict[str, object] = {"owner": "o", "until": "u", "now": "n", "limit": 8}
    marks = []
    for i, kind in enumerate(kinds):
        params[f"k{i}"] = kind
        marks.append(f":k{i}")
    sql = SQLITE.claim.format(kinds=" " + SQLITE.claim_kind_in.format(marks=", ".join(marks)))
    return " | ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_every_job_kind_is_in_exactly_one_lane() -> None:
    named = [kind for lane in LANES for kind in lane.kinds]
    assert sorted(named) == sorted(JOB_KINDS)


def test_every_lanes_claim_searches_the_index_by_kind() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(SQLITE_ENGINE.create_schema_migrations)
    for _, _, script in MIGRATIONS:
        conn.executescript(script)
    for lane in LANES:
        plan = _plan(conn, lane.kinds)
        assert "USING INDEX outbox_due_by_kind (kind=?" in plan, (lane.name, plan)
