"""The plain query reader (``bot.store.queries.read_plain``) gives aiosql's texts, or declines.

aiosql stays the reference: whatever file the reader accepts, aiosql must read to the same
names and texts; whatever it declines goes to aiosql. Every file shipped must take the quick
way, or the command line pays aiosql's import and parse at each start again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiosql.adapters.generic import GenericAdapter
from aiosql.query_loader import QueryLoader
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bot.store
from bot.errors import StoreError
from bot.store.queries import parse, read_plain

SQL_FILES = sorted(Path(bot.store.__file__).parent.rglob("sql/*.sql"))


def _aiosql(text: str) -> dict[str, str] | None:
    """aiosql's names and texts as ``parse`` keeps them; None when aiosql refuses the file or
    names a query twice."""
    loader = QueryLoader(GenericAdapter(), None, mandatory_parameters=False)  # type: ignore[no-untyped-call]
    try:
        data = loader.load_query_data_from_sql(text, [], "x.sql")
    except Exception:
        return None
    names = [datum.query_name for datum in data]
    if len(set(names)) != len(names):
        return None
    return {datum.query_name: datum.sql.removesuffix(";").rstrip() for datum in data}


def test_every_shipped_file_is_read_plainly_as_aiosql_reads_it() -> None:
    assert len(SQL_FILES) >= 20
    for path in SQL_FILES:
        text = path.read_text(encoding="utf-8")
        plain = read_plain(text)
        assert plain is not None, path  # else start-up imports aiosql again
        assert plain == _aiosql(text), path
        assert len(plain) == text.count("-- name:"), path


# Pieces of SQL lines and of what can go wrong in them, including what only aiosql reads.
PIECES = st.one_of(
    st.sampled_from(["SELECT 1", "  AND b = ?", "WHERE a = :a", "-- what it does", "", ";"]),
    st.sampled_from(["SELECT 1", "  AND b = ?", "WHERE a = :a", "-- what it does", "", ";"]),
    st.sampled_from(
        [
            " ",
            "\t",
            "\x0c",
            ";",
            "--",
            "-- a comment",
            "  -- indented comment",
            "-- name: b",
            "-- record_class: R",
            "/*",
            "*/",
            "/*+ hint */",
            "'",
            '"',
            "'--'",
            "SELECT 1",
            "SELECT * FROM t WHERE id = ?",
            "WHERE a = :a",
            "x::text",
            "{cols}",
        ]
    ),
)
HEADERS = st.sampled_from(["-- name: ", "--name:", "-- name : ", "--  name:\t", "-- name:"])
# Mostly names aiosql takes as they are, so that most files are ones the reader accepts.
NAMES = st.one_of(
    st.sampled_from(["a", "get_x", "_b2", "A1", "b"]),
    st.sampled_from(["a", "get_x", "_b2", "A1", "b"]),
    st.sampled_from(["a", "get_x", "_b2", "A1", "b"]),
    st.sampled_from(["2c", "x-y", "q(a, b)", "add<!", "one^", "v$", "s#", "é", "", "a b"]),
)
BREAKS = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r", "\u2028", "\n\n"])
LINES = st.lists(st.lists(PIECES, max_size=4).map("".join), max_size=5)


@st.composite
def query_files(draw: st.DrawFn) -> str:
    """A file as the format has it (a header, a name, comment and SQL lines per query), with
    every part drawn from spellings aiosql reads, reads otherwise, or refuses."""
    text = "".join(line + draw(BREAKS) for line in draw(st.lists(st.just("-- about"), max_size=2)))
    for i in range(draw(st.integers(0, 4))):
        name = draw(NAMES) + draw(st.sampled_from([str(i), str(i), str(i), ""]))  # "": maybe twice
        text += draw(HEADERS) + name + draw(st.sampled_from(["", " ", "\t"])) + draw(BREAKS)
        text += "".join(line + draw(BREAKS) for line in draw(LINES))
    return text


@settings(max_examples=3000, deadline=None)
@given(query_files())
@example("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")
@example("-- name: a\n-- only a comment\n;\n")
@example("-- name: a\nSELECT '/* not a comment */'\n")
@example("-- name: a\r\nSELECT 1\r\n-- doc\r\n  AND 2;\r\n")
@example("-- name: a\nSELECT 1 -- trailing\n\x0c-- doc\n")
def test_the_plain_reader_agrees_with_aiosql_or_declines(text: str) -> None:
    plain = read_plain(text)
    if plain is not None:
        assert plain == _aiosql(text)


def test_what_the_plain_reader_declines_aiosql_reads_or_refuses() -> None:
    assert read_plain("-- name: a-b\nSELECT 1\n") is None
    assert parse("-- name: a-b\nSELECT 1\n", "x.sql") == {"a_b": "SELECT 1"}
    assert read_plain("-- name: add<!\nINSERT INTO t VALUES (1) RETURNING id\n") is None
    assert parse("-- name: a\n/* note */ SELECT 1\n", "x.sql") == {"a": "SELECT 1"}
    with pytest.raises(StoreError, match=r"x\.sql: empty sql for: a"):
        parse("-- name: a\n-- nothing but a comment\n", "x.sql")
    with pytest.raises(StoreError, match=r"x\.sql: invalid query name"):
        parse("-- name: 2a\nSELECT 1\n", "x.sql")
