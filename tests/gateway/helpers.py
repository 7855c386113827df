"""Helpers for gateway tests: typed access to the embedded stack and the database file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from bot.channels.memory import MemoryChannel
from bot.embedded import Embedded
from bot.sandbox.backend import SandboxBackend


def parts(stack: object) -> tuple[Embedded, SandboxBackend, MemoryChannel]:
    assert isinstance(stack, Embedded)
    assert stack.backend is not None and stack.memory is not None
    return stack, stack.backend, stack.memory


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table, read with the stdlib driver straight from the file."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        skip = {"seen_signatures", "schema_migrations"}
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
