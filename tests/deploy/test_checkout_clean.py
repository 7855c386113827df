"""A test run leaves the checkout's tracked tree as it was: the browser tests' screenshots go to
a place git ignores (.venv/artifacts/ by default), not to artifacts/ beside the sources."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.browser import test_phone, test_preview

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", [test_phone, test_preview], ids=["phone", "preview"])
def test_screenshots_go_where_git_ignores_them(module: ModuleType) -> None:
    target = Path(module.ARTIFACTS) / "screenshot.png"
    if not target.is_relative_to(ROOT):
        return  # TEST_ARTIFACTS_DIR outside the checkout
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", str(target.relative_to(ROOT))], cwd=ROOT
    )
    assert ignored.returncode == 0, f"{target} would show up in git status"
    assert target.relative_to(ROOT).parts[0] != "artifacts"
