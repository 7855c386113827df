"""``scripts/bench --matrix``: SQLite ×1, PostgreSQL ×1 and PostgreSQL ×3 in one command.

Each configuration is a whole run of its own (``python -m bench`` in a child process, one after
the other, so they never share the machine), with its own same-run baselines; the table puts
each figure and its ratio to that run's baseline side by side, per configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WRITTEN = "written: "


def configurations(database_url: str | None) -> list[tuple[str, list[str]]]:
    """(column title, extra arguments) of each configuration."""
    url = database_url or os.environ.get("APPROVAL_GATEWAY_TEST_DATABASE_URL", DEFAULT_PG_URL)
    return [
        ("SQLite ×1", []),
        ("PostgreSQL ×1", ["--database-url", url]),
        ("PostgreSQL ×3", ["--database-url", url, "--replicas", "3"]),
    ]


def one(title: str, argv: list[str]) -> dict[str, Any]:
    """Run one configuration, its output passed through; the JSON it wrote."""
    print(f"==> matrix: {title} (scripts/bench {' '.join(argv)})", flush=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench", *argv], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    written = None
    for line in child.stdout:
        print(line, end="", flush=True)
        if line.startswith(WRITTEN):
            written = line[len(WRITTEN) :].split(" and ")[0].strip()
    child.wait()
    if written is None:
        raise RuntimeError(f"{title}: the run exited {child.returncode} without a report")
    data: dict[str, Any] = json.loads(Path(written).with_suffix(".json").read_text())
    return data


def cell(row: dict[str, str]) -> str:
    """A figure with its ratio to its own run's baseline."""
    ratio = row["ratio"].replace(" (", " ").rstrip(")")
    return f"{row['value']} ({ratio})" if ratio else row["value"]


def markdown(titles: list[str], runs: list[dict[str, Any]]) -> str:
    """One table: each measure once, a column per configuration, the notes of each run."""
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], dict[str, str]] = {}
    targets: dict[tuple[str, str], str] = {}
    for title, data in zip(titles, runs, strict=True):
        for row in data["rows"]:
            key = (row["section"], row["measure"])
            if key not in cells:
                keys.append(key)
                cells[key] = {}
            cells[key][title] = cell(row)
            targets[key] = row["target"]
    m = runs[0]["machine"]
    lines = [
        f"Benchmark matrix, {runs[0]['mode']} runs, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; "
        f"{m['cores']} cores, {m['cpu']}, Python {m['python']}. Each cell: the figure "
        "(its ratio to the same run's baseline).",
        "",
        f"| Section | Measure | {' | '.join(titles)} | Target |",
        "|---|---|" + "---|" * len(titles) + "---|",
    ]
    lines += [
        f"| {s} | {m_} | {' | '.join(cells[(s, m_)].get(t, '—') for t in titles)} "
        f"| {targets[(s, m_)]} |"
        for s, m_ in keys
    ]
    for title, data in zip(titles, runs, strict=True):
        lines += ["", f"{title} ({data['at']}):", *(f"- {n}" for n in data["notes"])]
    return "\n".join(lines) + "\n"


def main(quick: bool, database_url: str | None, only: tuple[str, ...] = ()) -> int:
    """Run every configuration (``only``: just those phases), then write and print the
    side-by-side table."""
    titles, runs = [], []
    shared = (["--quick"] if quick else []) + (["--only", ",".join(only)] if only else [])
    for title, argv in configurations(database_url):
        runs.append(one(title, shared + argv))
        titles.append(title)
    text = markdown(titles, runs)
    report.RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = json.dumps(dict(zip(titles, runs, strict=True)), indent=2, default=str)
    for name in (f"matrix-{stamp}", "matrix-latest"):
        (report.RESULTS / f"{name}.md").write_text(text)
        (report.RESULTS / f"{name}.json").write_text(body)
    print()
    print(text)
    print(f"written: {report.RESULTS / f'matrix-{stamp}.md'}")
    incomplete = any(n.startswith("INCOMPLETE") for data in runs for n in data["notes"])
    return 1 if incomplete else 0
