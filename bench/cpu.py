"""CPU seconds spent by the processes of a run, read from ``/proc/<pid>/stat``.

A rate depends on how many cores the machine has and how busy they are; the CPU seconds a
process spends per accepted request do not (much), so the rows give both. The gateway's and
the baselines' processes are this run's children; on PostgreSQL the server's backends serving
this run's database are found through ``pg_stat_activity`` and read the same way (the server
runs on this machine). Background server processes (checkpointer, WAL writer, autovacuum) are
not counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (every thread) so far; 0 if it is gone or unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def snapshot(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds of each pid now."""
    return {pid: seconds(pid) for pid in pids}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots; a pid new in ``after`` counts from 0 (a
    backend started meanwhile), one gone by then is lost (noted by the callers)."""
    return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())


async def backends(database_url: str) -> list[int]:
    """The server pids of every session on the database of ``database_url`` but this one."""
    import asyncpg

    from bench.pgdb import statement

    conn = await asyncpg.connect(database_url)
    try:
        return [int(r["pid"]) for r in await conn.fetch(statement("pg_backends"))]
    finally:
        await conn.close()


def per_request_ms(seconds: float, accepted: int) -> float:
    """CPU milliseconds per accepted request (at least one request, so never a division by 0)."""
    return seconds / max(1, accepted) * 1000


@dataclass
class Meter:
    """The CPU seconds of a set of processes (and, with ``database_url``, of the PostgreSQL
    backends serving its database) from :meth:`start` to each :meth:`read`."""

    pids: list[int]
    database_url: str | None = None
    _before: dict[int, float] = field(default_factory=dict)
    _before_db: dict[int, float] = field(default_factory=dict)

    async def start(self) -> None:
        """Take the starting snapshot."""
        server = await backends(self.database_url) if self.database_url else []
        self._before = snapshot(self.pids)
        self._before_db = snapshot(server)

    async def read(self) -> tuple[float, float]:
        """(the processes', the server backends') CPU seconds since :meth:`start`; a backend
        opened meanwhile counts from 0."""
        spent_here = spent(self._before, snapshot(self.pids))
        if not self.database_url:
            return spent_here, 0.0
        return spent_here, spent(self._before_db, snapshot(await backends(self.database_url)))
