"""Helpers for gateway tests: typed access to the embedded stack and the database file."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from bot.channels.memory import MemoryChannel
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded

T = TypeVar("T")


def parts(stack: object) -> tuple[Embedded, SandboxBackend, MemoryChannel]:
    assert isinstance(stack, Embedded)
    assert stack.backend is not None and stack.memory is not None
    return stack, stack.backend, stack.memory


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table, read with the stdlib driver straight from the file."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        skip = {"signed_answers", "schema_migrations"}
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in tables
            if t not in skip
        }


async def eventually(probe: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def trace(backend: SandboxBackend, ticket_id: str) -> dict[str, Any]:
    status, body = await backend.trace(ticket_id)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def states(backend: SandboxBackend, ticket_id: str) -> list[str]:
    return [d["state"] for d in (await trace(backend, ticket_id))["deliveries"]]


class CliRun(NamedTuple):
    """What ``approval-gateway`` printed and how it exited."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        """stdout then stderr."""
        return self.out + self.err


async def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    cwd: Path | None = None,
    within: float = 60,
) -> CliRun:
    """Run ``python -m bot ARGS`` as its own process.

    Asynchronously: a gateway under test shares this event loop, and a blocking call would
    freeze it while it holds SQLite's write lock, locking the CLI out.
    """
    full_env = {**os.environ, **(env or {})}
    if data_dir is not None:
        full_env["APPROVAL_GATEWAY_DATA_DIR"] = str(data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=full_env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()  # a command that hangs must not outlive the test
        await proc.wait()
        raise
    return CliRun(proc.returncode or 0, out.decode(), err.decode())


class ThreadedGateway:
    """The embedded gateway on a private loop, so sync drivers (hypothesis, requests) can call it."""

    def __init__(self, data_dir: Path) -> None:
        from sandbox.embedded import start
        from tests.conftest import fast_settings

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.embedded: Embedded = self.run(start(fast_settings(data_dir)))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the gateway's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return self.embedded.gateway.url

    def token(self, role: str) -> str:
        """A fresh bearer token with ``role``."""
        from bot.http.auth import new_token
        from bot.store.tokens import TokenStore

        token = new_token()
        gateway = self.embedded.gateway
        self.run(TokenStore(gateway.store).create(token, role, "test", gateway.clock.now()))
        return token

    def post(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """A signed ``POST /v1/approvals`` of ``body``."""
        backend = self.embedded.backend
        assert backend is not None
        request = urllib.request.Request(
            self.url + "/v1/approvals",
            data=body,
            headers=backend.sign("POST", "/v1/approvals", body),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def close(self) -> None:
        """Stop the gateway and its loop."""
        self.run(self.embedded.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@asynccontextmanager
async def store_held(db: Path) -> AsyncIterator[None]:
    """Another writer holds the database's write lock (``BEGIN IMMEDIATE``) until the block ends.

    The gateway's own writes wait for it (its busy timeout), as they would behind a slow
    backup or a second process: clicks cannot be decided meanwhile. The lock is taken on a
    thread: blocking this loop, which the gateway shares, while one of its transactions is
    still on the way to its COMMIT would hold both until the busy timeout.
    """
    conn = sqlite3.connect(db, timeout=10, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        yield
    finally:
        conn.rollback()
        conn.close()
