"""The run's results: a markdown table and a JSON file in ``bench-results/``."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.run import Row

RESULTS = Path("bench-results")


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python and OS of this machine."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "os": platform.platform(),
    }


def markdown(rows: list[Row], header: dict[str, Any]) -> str:
    """The table, headed by what ran where."""
    m = header["machine"]
    lines = [
        f"Benchmark {header['mode']} run, {header['at']}, engine {header['engine']}, "
        f"{header['replicas']} gateway process(es); {m['cores']} cores, {m['cpu']}, "
        f"Python {m['python']}.",
        "",
        "| Section | Measure | Value | Baseline (same run) | Ratio | Target |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.section} | {r.measure} | {r.value} | {r.baseline} | {r.ratio} | {r.target} |"
        for r in rows
    ]
    notes = header.get("notes") or []
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def write(rows: list[Row], raw: dict[str, Any], header: dict[str, Any]) -> tuple[Path, str]:
    """Write ``bench-<time>.md`` / ``.json`` (and ``latest.*``); the markdown path and text."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = markdown(rows, header)
    data = {**header, "rows": [r.__dict__ for r in rows], "raw": raw}
    body = json.dumps(data, indent=2, default=str, allow_nan=True)
    for name in (f"bench-{stamp}", "latest"):
        (RESULTS / f"{name}.md").write_text(text)
        (RESULTS / f"{name}.json").write_text(body)
    return RESULTS / f"bench-{stamp}.md", text
