"""Golden files: every state x locale x platform, compared exactly.

The files live in ``tests/cards/golden/``. After an intended change to a
renderer, regenerate them and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/cards
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cards import CardState, Locale, render_dingtalk, render_email, render_lark, sample_view

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CASES = [(state, locale) for state in CardState for locale in Locale]


def _json(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _rendered(state: CardState, locale: Locale) -> dict[str, str]:
    view = sample_view(state, locale)
    email = render_email(view)
    return {
        "lark.json": _json(render_lark(view)),
        "dingtalk.json": _json(render_dingtalk(view)),
        "email.txt": f"Subject: {email.subject}\n\n{email.text}",
        "email.html": email.html,
    }


def _check(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs from golden"


@pytest.mark.parametrize(("state", "locale"), CASES, ids=[f"{s}-{loc}" for s, loc in CASES])
def test_matches_golden(state: CardState, locale: Locale) -> None:
    for suffix, actual in _rendered(state, locale).items():
        _check(GOLDEN / f"{state.value}.{locale.value}.{suffix}", actual)


def test_no_stray_golden_files() -> None:
    expected = {
        f"{s.value}.{loc.value}.{suffix}"
        for s, loc in CASES
        for suffix in ("lark.json", "dingtalk.json", "email.txt", "email.html")
    }
    assert {p.name for p in GOLDEN.iterdir()} == expected
