"""Each outbox lane's claim is served by an index of pending jobs that leads with its kinds (and,
for a platform's lane of card updates, its channels), so a claim costs the same behind any
backlog of another lane's jobs (a lane that excluded kinds walked past every queued card on
each claim; one that filtered channels after the kind would walk past every other platform's
queued redraws)."""

from __future__ import annotations

import sqlite3

from bot.channels.registry import REGISTRY, chat_platforms
from bot.core.lanes import JOB_KINDS, Lane, lanes
from bot.core.redraw import UPDATE_CARD
from bot.store.sqlite.queries import SQLITE, SQLITE_ENGINE
from bot.store.sqlite.store import MIGRATIONS

LANES = lanes(forwards=1, updates=1, sends=1)
PACED = lanes(forwards=1, updates=1, sends=1, channels=tuple(REGISTRY), paced=chat_platforms())


def _marks(params: dict[str, object], prefix: str, values: tuple[str, ...]) -> str:
    marks = []
    for value in values:
        key = f"{prefix}{len(params)}"
        params[key] = value
        marks.append(f":{key}")
    return ", ".join(marks)


def _plan(conn: sqlite3.Connection, lane: Lane) -> str:
    params: dict[str, object] = {"owner": "o", "until": "u", "now": "n", "limit": 8}
    share = " " + SQLITE.claim_kind_in.format(marks=_marks(params, "k", lane.kinds))
    if lane.channels:
        share += " " + SQLITE.claim_channel_in.format(marks=_marks(params, "c", lane.channels))
    sql = SQLITE.claim.format(kinds=share)
    return " | ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _schema() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(SQLITE_ENGINE.create_schema_migrations)
    for _, _, script in MIGRATIONS:
        conn.executescript(script)
    return conn


def test_every_job_kind_is_in_exactly_one_lane() -> None:
    named = [kind for lane in LANES for kind in lane.kinds]
    assert sorted(named) == sorted(JOB_KINDS)


def test_every_card_update_is_in_exactly_one_lane_when_platforms_have_their_own() -> None:
    # Every (kind, channel) a job is queued with: a card update names its card's channel (or
    # none, queued before they did); the other kinds name none.
    queued = [(UPDATE_CARD, channel) for channel in REGISTRY] + [(k, "") for k in JOB_KINDS]
    for kind, channel in queued:
        taking = [
            lane.name
            for lane in PACED
            if kind in lane.kinds and (not lane.channels or channel in lane.channels)
        ]
        assert len(taking) == 1, (kind, channel, taking)
    assert {lane.name for lane in PACED} >= {"updates-lark", "updates-dingtalk"}


def test_every_lanes_claim_searches_the_index_by_kind() -> None:
    conn = _schema()
    for lane in LANES:
        plan = _plan(conn, lane)
        assert "USING INDEX outbox_due_by_kind (kind=?" in plan, (lane.name, plan)


def test_a_platforms_lane_searches_the_index_by_kind_and_channel() -> None:
    conn = _schema()
    for lane in PACED:
        plan = _plan(conn, lane)
        index = "outbox_due_by_channel (kind=? AND channel=?" if lane.channels else "outbox_due_by"
        assert f"USING INDEX {index}" in plan, (lane.name, plan)
