"""One PostgreSQL transaction on an asyncpg connection.

The repository code binds ``?`` (positional) and ``:name`` (named) parameters on every engine;
asyncpg wants ``$1``..``$n``, so each query text is renumbered once (cached) before it runs.
Quoted text and ``::`` casts are left alone.

Every statement is a round trip, so the writes whose outcome nobody reads (``defer``: a job
queued, an audit line, a decision) are held and sent together, as one call of ``apply_writes``
(migration 0017), before the transaction's next statement or its commit: a click's jobs and its
audit line cost one round trip instead of one each. Each held write goes as its text with its
values in one JSON array (:func:`held`), and the count it must change when the caller is sure
of one; the function runs them in order, each seeing the ones before, as separate statements
would, and fails on a count that differs. A write with no count to check also goes with a name
fixed by its text (:func:`statement_name`): the function prepares it once per session under that
name and runs the prepared statement (migration 0020), so its plan is made once, not per call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from typing import Any

import asyncpg

from bot.errors import StoreError
from bot.store.postgres.errors import translated
from bot.store.postgres.queries import ENGINE
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


# How a held write reads its n-th value from the JSON array: text as it is, other JSON values
# cast back to what the driver would have sent, bytes through base64, NULL as the literal (an
# untyped NULL takes the type its place needs, as a NULL parameter does).
_READ_AS = {
    str: "($1->>{n})",
    int: "(($1->>{n})::bigint)",
    bool: "(($1->>{n})::boolean)",
    float: "(($1->>{n})::float8)",
    bytes: "decode($1->>{n}, 'base64')",
    type(None): "NULL",
}
_NUMBERED = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\$(\d+)")


@lru_cache(maxsize=1024)
def _held_text(text: str, kinds: tuple[type, ...]) -> str:
    def replace(match: re.Match[str]) -> str:
        number = match.group(1)
        if number is None:
            return match.group(0)  # a literal or a quoted name
        return _READ_AS[kinds[int(number) - 1]].format(n=int(number) - 1)

    return _NUMBERED.sub(replace, text)


def held(sql: str, params: Params) -> tuple[str, list[Any]] | None:
    """``sql`` as ``apply_writes`` runs it (its values read from one JSON array, ``$1``) and
    that array; None when a value has no such spelling (the write then runs at once)."""
    text, args = bind(sql, params)
    kinds = tuple(type(arg) for arg in args)
    if any(kind not in _READ_AS for kind in kinds):
        return None
    values = [base64.b64encode(a).decode() if isinstance(a, bytes) else a for a in args]
    return _held_text(text, kinds), values


@lru_cache(maxsize=1024)
def statement_name(text: str) -> str:
    """The name ``apply_writes`` prepares a held write's ``text`` under in a session (the same
    text, the same name, on every replica)."""
    return "aw_" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _write(text: str, args: list[Any], changes: int | None) -> dict[str, Any]:
    # A write with a count to check runs as dynamic SQL (migration 0020 says why).
    if changes is not None:
        return {"sql": text, "args": args, "changes": changes}
    return {"sql": text, "args": args, "changes": None, "name": statement_name(text)}


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
        # Deferred writes, in order: the text, its values, the count it must change (or None).
        self._held: list[tuple[str, list[Any], int | None]] = []

    async def defer(self, sql: str, params: Params = (), *, changes: int | None = None) -> None:
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        self.read_ahead = {}  # a write may change what was read ahead
        spelled = held(sql, params)
        if spelled is None:
            await super().defer(sql, params, changes=changes)
            return
        self._held.append((*spelled, changes))

    async def flush(self) -> None:
        """Send the deferred writes, in one statement (the store calls this before COMMIT)."""
        if not self._held:
            return
        writes, self._held = self._held, []
        batch = json.dumps([_write(t, a, n) for t, a, n in writes])
        await self.fetch_one(ENGINE.apply_writes, (batch,))

    async def execute(self, sql: str, params: Params = ()) -> int:
        if not self._writable:
            raise StoreError("write attempted in a read-only transaction")
        self.read_ahead = {}  # a write may change what was read ahead
        await self.flush()
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
        await self.flush()
        text, args = bind(sql, params)
        async with _translated():
            return list(await self.conn.fetch(text, *args))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        await self.flush()
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
