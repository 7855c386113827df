"""One PostgreSQL transaction on an asyncpg connection.

The repository code binds ``?`` (positional) and ``:name`` (named) parameters on every engine;
asyncpg wants ``$1``..``$n``, so each query text is renumbered once (cached) before it runs.
Quoted text and ``::`` casts are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import asyncpg

from bot.errors import StoreError
from bot.store.postgres.errors import translated
from bot.store.queries import Queries
from bot.store.tx import EngineTx, Params, Row

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|::|\?|:([a-z_][a-z0-9_]*)")


@lru_cache(maxsize=1024)
def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``$n`` placeholders, and the parameter names in ``$n`` order (empty for
    positional ``?`` parameters)."""
    names: list[str] = []
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        token = match.group(0)
        if token == "?":
            count += 1
            return f"${count}"
        name = match.group(1)
        if name is None:
            return token  # a literal, a quoted name or a cast
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _TOKEN.sub(replace, sql), tuple(names)


def bind(sql: str, params: Params) -> tuple[str, list[Any]]:
    """The asyncpg text and argument list for ``sql`` with ``params``."""
    text, names = numbered(sql)
    if isinstance(params, dict):
        return text, [params[name] for name in names]
    return text, list(params)


class PostgresTx(EngineTx):
    """A transaction on one pooled asyncpg connection."""

    rows_carry_children = True  # see postgres/sql/approvals.sql: insert_delivery, get_request

    def __init__(self, conn: asyncpg.Connection, sql: Queries, *, writable: bool) -> None:
        self.conn = conn
        self.sql = sql
        self._writable = writable
        self.open = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        text, args = bind(sql, params)
        async with _translated():
            if text.lstrip().upper().startswith(("WITH", "SELECT")):
                # A statement whose changes are counted by the rows it returns (enqueue, release).
                return len(await self.conn.fetch(text, *args))
            status: str = await self.conn.execute(text, *args)
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count is the last word.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        text, args = bind(sql, params)
        async with _translated():
            return list(await self.conn.fetch(text, *args))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        text, args = bind(sql, params)
        async with _translated():
            return await self.conn.fetchrow(text, *args)


class _translated:
    # The driver's errors become the project's (postgres/errors.py). Wrong parameter types are
    # the caller's bug and stay as they are.
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        error = translated(exc, "database error") if exc is not None else None
        if error is not None:
            raise error from exc
