"""Urgent writes (a click's decision and its forward) are not held behind queued ordinary ones.

Ordering is counted, never timed: every write records when its body ran and when it returned.
SQLite: an urgent write takes the group-commit turn right after the part running when it came,
and its COMMIT does not wait for the ordinary parts queued behind it. PostgreSQL: ordinary
transactions never hold the reserved share of the pool, so an urgent one commits while every
ordinary connection is taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.core.limits import Budget
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.postgres.limits import PostgresRateLimits
from bot.store.sqlite import SqliteStore
from bot.store.sqlite.group_commit import Turn

QUEUED = 20  # ordinary writes queued behind the blocked one


class Journal:
    """What happened, in order: ("body", name) when a write's body ran, ("done", name) after
    its write() returned (committed); and how many transactions the store had committed when
    each body ran."""

    def __init__(self, commits: Callable[[], int] = lambda: 0) -> None:
        self.events: list[tuple[str, str]] = []
        self.commits_at: dict[str, int] = {}  # name -> transactions committed when its body ran
        self._commits = commits

    def index(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))

    def commits(self) -> int:
        return self._commits()

    def names(self, kind: str) -> list[str]:
        return [name for k, name in self.events if k == kind]


async def _write(
    store: EngineStore,
    journal: Journal,
    name: str,
    row: int,
    *,
    urgent: bool = False,
    hold: asyncio.Event | None = None,
    holding: asyncio.Event | None = None,
) -> None:
    async with store.write(urgent=urgent) as tx:
        journal.events.append(("body", name))
        journal.commits_at[name] = journal.commits()
        # A row of its own (a budget's named upsert): no row lock shared between the writes.
        await tx.execute(tx.sql.set_budget, (f"test:{row}", 0.0))
        if hold is not None:
            assert holding is not None
            holding.set()
            await hold.wait()
    journal.events.append(("done", name))


async def _until(condition: Callable[[], bool]) -> None:
    # Lets queued tasks take their first steps (loop turns, no timer); bounded.
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the queued writes never queued")


async def test_sqlite_an_urgent_write_goes_before_queued_writes_and_commits_without_them(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    journal = Journal(lambda: store.stats.commits)
    hold, holding = asyncio.Event(), asyncio.Event()
    commits = store.stats.commits
    try:
        blocker = asyncio.create_task(
            _write(store, journal, "blocker", 0, hold=hold, holding=holding)
        )
        await holding.wait()  # the blocker holds the turn, inside its transaction
        queued = [
            asyncio.create_task(_write(store, journal, f"send{i}", i + 1)) for i in range(QUEUED)
        ]
        await _until(lambda: store.stats.waiting == QUEUED)
        urgent = asyncio.create_task(_write(store, journal, "click", 999, urgent=True))
        await _until(lambda: store.stats.waiting == QUEUED + 1)
        hold.set()
        await asyncio.gather(blocker, urgent, *queued)
    finally:
        await store.close()
    bodies = journal.names("body")
    assert bodies[:2] == ["blocker", "click"]  # next after the part that was running
    # Its COMMIT came before any queued write even ran: each of them ran in a later
    # transaction than the click's, which the blocker's and the click's shared.
    assert {journal.commits_at[f"send{i}"] for i in range(QUEUED)} == {commits + 1}
    assert journal.commits_at["click"] == journal.commits_at["blocker"] == commits
    assert journal.index("done", "click") < min(
        journal.index("done", f"send{i}") for i in range(QUEUED)
    )


async def test_sqlite_ordinary_writes_still_share_one_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    journal = Journal()
    hold, holding = asyncio.Event(), asyncio.Event()
    try:
        blocker = asyncio.create_task(
            _write(store, journal, "blocker", 0, hold=hold, holding=holding)
        )
        await holding.wait()
        commits = store.stats.commits
        queued = [
            asyncio.create_task(_write(store, journal, f"send{i}", i + 1)) for i in range(QUEUED)
        ]
        await _until(lambda: store.stats.waiting == QUEUED)
        hold.set()
        await asyncio.gather(blocker, *queued)
    finally:
        await store.close()
    assert store.stats.commits == commits + 1  # no urgent write: group commit as before


async def test_postgresql_an_urgent_write_commits_while_every_ordinary_connection_is_taken(
    pg_url: str,
) -> None:
    store = PostgresStore(pg_url, pool_size=2)  # one ordinary connection, one reserved
    await store.open()
    journal = Journal()
    hold, holding = asyncio.Event(), asyncio.Event()
    try:
        blocker = asyncio.create_task(
            _write(store, journal, "blocker", 0, hold=hold, holding=holding)
        )
        await holding.wait()  # the one ordinary connection is held, in a transaction
        queued = [
            asyncio.create_task(_write(store, journal, f"send{i}", i + 1)) for i in range(QUEUED)
        ]
        urgent = asyncio.create_task(_write(store, journal, "click", 999, urgent=True))
        # Only a timeout that keeps a failing run from hanging: the assertions count order.
        await asyncio.wait({urgent}, timeout=30)
        hold.set()
        await asyncio.gather(blocker, urgent, *queued)
    finally:
        await store.close()
    click_done = journal.index("done", "click")
    assert click_done < journal.index("done", "blocker")
    assert all(journal.index("body", f"send{i}") > click_done for i in range(QUEUED))


async def test_urgent_waiters_are_served_before_ordinary_ones() -> None:
    turn = Turn()
    await turn.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await turn.acquire(urgent=urgent)
        order.append(name)
        turn.release()

    tasks = [asyncio.create_task(take("send", False)), asyncio.create_task(take("click", True))]
    await _until(lambda: turn.waiting == 2)
    turn.release()
    await asyncio.gather(*tasks)
    assert order == ["click", "send"]


async def test_a_waiter_cancelled_once_handed_the_turn_hands_it_back() -> None:
    turn = Turn()
    await turn.acquire()
    handed_back: list[bool] = []

    def back() -> None:
        handed_back.append(True)
        turn.release()

    waiter = asyncio.create_task(turn.acquire(urgent=True, handed_back=back))
    await _until(lambda: turn.waiting == 1)
    turn.release()  # handed to the waiter, which is cancelled before it runs
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert handed_back == [True]
    await asyncio.wait_for(turn.acquire(), 5)  # free again: nothing is stranded


async def test_postgresql_rate_reservations_leave_the_reserved_share_to_a_click(
    pg_url: str,
) -> None:
    # A thousand card sends reserve their rate budgets in statements of their own: those are
    # ordinary work too, and queue for the ordinary share, not for the click's connection.
    store = PostgresStore(pg_url, pool_size=2)  # one ordinary connection, one reserved
    await store.open()
    journal = Journal()
    hold, holding = asyncio.Event(), asyncio.Event()
    limits = PostgresRateLimits(store)

    async def reserve(i: int) -> None:
        await limits.reserve(Budget(f"lark:app:api:{i}", 50.0), within=1.0)
        journal.events.append(("done", f"send{i}"))

    try:
        blocker = asyncio.create_task(
            _write(store, journal, "blocker", 0, hold=hold, holding=holding)
        )
        await holding.wait()  # the one ordinary connection is held, in a transaction
        queued = [asyncio.create_task(reserve(i)) for i in range(QUEUED)]
        await _until(lambda: all(not t.done() for t in queued))
        urgent = asyncio.create_task(_write(store, journal, "click", 999, urgent=True))
        # Only a timeout that keeps a failing run from hanging: the assertions count order.
        await asyncio.wait({urgent}, timeout=30)
        hold.set()
        await asyncio.gather(blocker, urgent, *queued)
    finally:
        await store.close()
    click_done = journal.index("done", "click")
    assert all(journal.index("done", f"send{i}") > click_done for i in range(QUEUED))
