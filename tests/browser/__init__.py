"""Browser tests (Playwright on Debian's chromium).

Their screenshots go to ``$TEST_ARTIFACTS_DIR``, by default ``.venv/artifacts/`` (git ignores
``.venv/``), so a test run leaves the checkout's own tree as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS_ROOT = Path(
    os.environ.get("TEST_ARTIFACTS_DIR")
    or Path(__file__).resolve().parents[2] / ".venv" / "artifacts"
)
