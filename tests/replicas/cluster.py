"""Three gateway replicas on one database, and the databases they can share.

Each replica is ``approval-gateway serve`` in its own process (sandbox off, channels from
settings), all pointed at the same Lark and DingTalk apps and ticket backend, which live in the
test process (``tests.faults.harness``). The backend reaches the replicas as a load balancer
would: any live one, the next one when that fails.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from sandbox.backend import SandboxBackend
from tests.faults.harness import CONNECTION_ERRORS, GatewayProcess
from tests.store.engines import postgres_database


@dataclass(frozen=True)
class Engine:
    """How the replicas reach their shared database."""

    name: str
    env: dict[str, str]


@contextlib.contextmanager
def sqlite_engine(data_dir: Path) -> Iterator[Engine]:
    """One SQLite file in the shared data directory; every write is BEGIN IMMEDIATE."""
    data_dir.mkdir(parents=True, exist_ok=True)
    yield Engine("sqlite", {})


@contextlib.contextmanager
def postgres_engine(data_dir: Path) -> Iterator[Engine]:
    """A database of this run's own on the test server (``APPROVAL_GATEWAY_TEST_DATABASE_URL``,
    see ``tests.store.engines``), dropped after, with the connections a SIGKILLed replica
    left; skipped loudly, saying why, where no PostgreSQL answers."""
    with postgres_database("replicas") as url:
        data_dir.mkdir(parents=True, exist_ok=True)  # secrets and logs; the data is in the server
        yield Engine("postgresql", {"APPROVAL_GATEWAY_DATABASE_URL": url})


ENGINES = {"sqlite": sqlite_engine, "postgresql": postgres_engine}


def master_key() -> str:
    """One key for all replicas: each seals and opens the same stored credentials."""
    return base64.b64encode(os.urandom(32)).decode()


@dataclass
class Cluster:
    """The replicas, started, killed and restarted by index."""

    replicas: list[GatewayProcess]
    events: list[tuple[str, int, float, float]] = field(default_factory=list)  # what, who, from, to

    @classmethod
    def make(cls, count: int, data_dir: Path, env: dict[str, str], log: IO[bytes]) -> Cluster:
        """``count`` replicas on one data directory, each on its own port."""
        return cls([GatewayProcess(data_dir, env, log) for _ in range(count)])

    @property
    def urls(self) -> list[str]:
        """Every replica's base URL (stable across restarts)."""
        return [r.url for r in self.replicas]

    def live(self) -> list[GatewayProcess]:
        """The replicas running now."""
        return [r for r in self.replicas if r.proc is not None and r.proc.returncode is None]

    async def kill(self, index: int) -> None:
        """SIGKILL one replica: its leases and in-flight clicks are left behind."""
        at = _now()
        await self.replicas[index].kill()
        self.events.append(("kill", index, at, _now()))

    async def restart(self, index: int) -> int:
        """SIGTERM one replica, wait for its graceful stop, start it again; the stop's status."""
        at = _now()
        code = await self.replicas[index].stop()
        self.events.append(("stop", index, at, _now()))
        await self.replicas[index].start()
        return code

    async def start(self, index: int) -> None:
        """Start one replica (again)."""
        await self.replicas[index].start()

    async def stop_all(self) -> list[int]:
        """SIGTERM every replica; their exit statuses."""
        return list(await asyncio.gather(*(r.stop() for r in self.replicas)))

    async def kill_all(self) -> None:
        """The teardown of last resort."""
        for replica in self.replicas:
            await replica.kill()


def _now() -> float:
    return asyncio.get_running_loop().time()


class Balancer:
    """Signed backend calls to whichever replica answers, as behind a load balancer."""

    def __init__(self, backend: SandboxBackend, cluster: Cluster, http: aiohttp.ClientSession):
        self._backend = backend
        self._cluster = cluster
        self._http = http
        self._turn = 0

    async def call(
        self, method: str, path: str, body: Any = None, *, request_id: str | None = None
    ) -> tuple[int, Any]:
        """The first answer from a replica, trying each in turn; resent until one answers."""
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        while True:
            self._turn += 1
            urls = self._cluster.urls
            url = urls[self._turn % len(urls)]
            headers = self._backend.sign(method, path, raw, request_id=request_id)
            try:
                async with self._http.request(
                    method, url + path, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(10)
                ) as response:
                    if response.status < 500:
                        text = await response.text()
                        return response.status, json.loads(text) if text else None
            except CONNECTION_ERRORS:
                pass
            await asyncio.sleep(0.05)

    async def get(self, path: str) -> tuple[int, str]:
        """An unsigned GET (``/readyz``, ``/metrics``) from any live replica."""
        while True:
            for replica in self._cluster.live():
                try:
                    async with self._http.get(replica.url + path) as response:
                        return response.status, await response.text()
                except CONNECTION_ERRORS:
                    continue
            await asyncio.sleep(0.05)

    async def outbox_depth(self, *kinds: str) -> float:
        """Outbox jobs still waiting, summed over ``kinds`` (all when none is named)
        (``gateway_outbox_depth``)."""
        _, text = await self.get("/metrics")
        prefixes = [f'gateway_outbox_depth{{kind="{k}"}}' for k in kinds] or [
            "gateway_outbox_depth{"
        ]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(tuple(prefixes))
        )
