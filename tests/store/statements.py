"""Which statements a unit of work sends and which it holds, by query name: what the round-trip
tests count, on either engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.store.postgres.queries import ENGINE
from bot.store.tx import EngineTx


def named(tx: EngineTx, sql: str) -> str:
    """The query's name; a template's ({marks}) by the text before its placeholder."""
    if sql == ENGINE.apply_writes:
        return "apply_writes"
    for name, text in vars(tx.sql).items():
        if text == sql or ("{" in text and sql.startswith(text.split("{")[0])):
            return name
    return sql


def watch(
    monkeypatch: pytest.MonkeyPatch, kind: type[EngineTx], sent: list[str], held: list[str]
) -> None:
    """Record in ``sent`` each statement ``kind`` sends, and in ``held`` each write it defers."""
    for primitive, into in (
        ("execute", sent),
        ("fetch_all", sent),
        ("fetch_one", sent),
        ("defer", held),
    ):
        original: Callable[..., Awaitable[Any]] = getattr(kind, primitive)

        async def watched(
            self: EngineTx,
            sql: str,
            params: Any = (),
            _run: Any = original,
            _into: Any = into,
            **how: Any,
        ) -> Any:
            _into.append(named(self, sql))
            return await _run(self, sql, params, **how)

        monkeypatch.setattr(kind, primitive, watched)
