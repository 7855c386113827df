"""Module sizes and function lengths of the product and the sandbox, against the project's bar.

    python scripts/sizes.py            # report; exit 1 if the bar is not met
    python scripts/sizes.py --list     # also every function, longest first

The bar (README, "Architecture"): no module over 400 lines unless its docstring says why (it
mentions "400 lines"), and a median function length of at most 7 lines. A function's length is
its lines from ``def`` to its last line, docstring included (decorators not); a nested function
also counts on its own.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cards", "sandbox")
MODULE_LIMIT = 400
MEDIAN_LIMIT = 7
EXCUSE = "400 lines"  # what a long module's docstring says to explain itself


@dataclass(frozen=True)
class Function:
    """One function or method: where it is and how many lines it spans."""

    where: str
    lines: int


def functions(tree: ast.Module, path: str) -> list[Function]:
    """Every (async) function in ``tree`` with its length."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(Function(f"{path}:{node.lineno} {node.name}", _length(node)))
    return found


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def long_modules(sources: dict[str, str]) -> list[tuple[str, int, bool]]:
    """Modules over the limit: path, lines, whether the docstring gives a reason."""
    found = []
    for path, text in sources.items():
        count = len(text.splitlines())
        if count > MODULE_LIMIT:
            doc = ast.get_docstring(ast.parse(text)) or ""
            found.append((path, count, EXCUSE in doc))
    return sorted(found, key=lambda item: -item[1])


def read_sources(root: Path) -> dict[str, str]:
    """Every Python file of the measured packages, by path relative to ``root``."""
    return {
        str(path.relative_to(root)): path.read_text("utf-8")
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }


def main(argv: list[str] | None = None) -> int:
    """Print the report; 0 when the bar is met, 1 when not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list every function, longest first")
    args = parser.parse_args(argv)
    sources = read_sources(ROOT)
    found = [f for path, text in sources.items() for f in functions(ast.parse(text), path)]
    median = statistics.median(f.lines for f in found)
    print(f"{len(sources)} modules, {len(found)} functions, median function {median:g} lines")
    ok = median <= MEDIAN_LIMIT
    for path, count, excused in long_modules(sources):
        print(f"{path}: {count} lines ({'reason given' if excused else 'NO REASON GIVEN'})")
        ok = ok and excused
    if args.list:
        for function in sorted(found, key=lambda f: -f.lines):
            print(f"{function.lines:4d} {function.where}")
    print("ok" if ok else f"over the bar (median ≤ {MEDIAN_LIMIT}, modules ≤ {MODULE_LIMIT})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
