"""Schema versions, read the same way for each engine: one ``NNNN_name.sql`` file each in the
engine's package (``bot/store/sqlite/migrations``, ``bot/store/postgres/migrations``), applied
in version order and recorded in ``schema_migrations``.

A file's first line is ``-- <description>`` (what ``schema_migrations`` records); the rest is its
statements, separated by ``;``. Never edit a released migration: add the next file. Versions
need not be contiguous (9 is unused). Timestamps are stored as fixed-width UTC ISO strings (see
``bot.store.codec``), so text comparison is time comparison.
"""

from __future__ import annotations

import re
from importlib.resources.abc import Traversable

from bot.errors import StoreError

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def load(root: Traversable) -> list[tuple[int, str, str]]:
    """(version, description, statements) of every migration file in ``root``, by version."""
    found: dict[int, tuple[int, str, str]] = {}
    for entry in root.iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations have version {version}")
        first, _, sql = entry.read_text(encoding="utf-8").partition("\n")
        if not first.startswith("-- ") or not sql.strip():
            raise StoreError(f"{entry.name}: the first line must be '-- <description>', then SQL")
        found[version] = (version, first.removeprefix("-- ").strip(), sql.strip())
    return [found[version] for version in sorted(found)]
