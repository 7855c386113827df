"""``approval-gateway cards render|validate`` run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.tickets import approver, sample_ticket


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def _render(*args: str) -> object:
    result = _cli("cards", "render", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_render_lark_and_dingtalk_samples(locale: str) -> None:
    lark = _render("--channel", "lark", "--state", "pending", "--locale", locale)
    assert isinstance(lark, dict) and lark["schema"] == "2.0"
    ding = _render("--channel", "dingtalk", "--state", "rejected", "--locale", locale)
    assert isinstance(ding, dict)
    assert ding["state"] == "rejected" and ding["locale"] == locale


def test_render_email_prints_subject_text_and_html() -> None:
    email = _render("--channel", "email", "--state", "approved", "--locale", "en-US")
    assert isinstance(email, dict) and set(email) == {"subject", "text", "html"}
    assert email["html"].lstrip().startswith("<!DOCTYPE html>")
    assert "\n" not in email["subject"]


@pytest.mark.parametrize("channel", ["lark", "dingtalk", "email"])
def test_validate_accepts_what_render_prints(channel: str, tmp_path: Path) -> None:
    rendered = _cli("cards", "render", "--channel", channel, "--state", "test")
    path = tmp_path / f"{channel}.json"
    path.write_text(rendered.stdout, "utf-8")
    # Without --channel the platform is told from the payload's shape.
    result = _cli("cards", "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert f"valid {channel} payload" in result.stdout


def test_validate_rejects_a_broken_lark_card_listing_every_error(tmp_path: Path) -> None:
    card = _render("--channel", "lark", "--state", "pending")
    assert isinstance(card, dict)
    card["schema"] = "1.0"
    card["config"]["update_multi"] = False
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(card), "utf-8")
    result = _cli("cards", "validate", str(path))
    assert result.returncode == 1
    assert 'schema must be "2.0"' in result.stderr
    assert "config.update_multi must be true" in result.stderr


def test_validate_reads_stdin_and_rejects_an_oversized_dingtalk_card() -> None:
    card = _render("--channel", "dingtalk", "--state", "pending")
    assert isinstance(card, dict)
    card["markdown"] = "x" * 25_000
    result = _cli("cards", "validate", "-", "--channel", "dingtalk", stdin=json.dumps(card))
    assert result.returncode == 1
    assert "over the limit of 20000" in result.stderr


def test_validate_cannot_guess_an_unknown_shape(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text('{"hello": "world"}', "utf-8")
    result = _cli("cards", "validate", str(path))
    assert result.returncode == 2
    assert "pass --channel" in result.stderr


def test_render_a_ticket_file_as_the_backend_sends_it(tmp_path: Path) -> None:
    ticket = sample_ticket("T-CLI-1", [approver("a1", "Ann Lee"), approver("a2", "Bo")])
    ticket["title"] = "Drop <b>legacy</b> table *now*"
    path = tmp_path / "ticket.json"
    path.write_text(json.dumps(ticket), "utf-8")
    ding = _render("--channel", "dingtalk", "--ticket", str(path), "--state", "approved")
    assert isinstance(ding, dict)
    assert ding["ticketId"] == "T-CLI-1"
    assert ding["locale"] == "en-US"  # the ticket's own locale when --locale is not given
    assert "Ann Lee" in ding["markdown"]  # the first approver holds the card and decided
    assert ding["consoleUrl"] == "https://dms.example.com/tickets/T-CLI-1"
    zh = _render("--channel", "lark", "--ticket", str(path), "--locale", "zh-CN")
    assert "T-CLI-1" in json.dumps(zh, ensure_ascii=False)


def test_a_bad_ticket_file_names_the_wrong_fields(tmp_path: Path) -> None:
    ticket = sample_ticket("T-CLI-2", [approver("a1", "Ann")])
    del ticket["submitter"]
    ticket["approvers"] = []
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(ticket), "utf-8")
    result = _cli("cards", "render", "--channel", "lark", "--ticket", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "not a valid approval request" in result.stderr
    assert "submitter" in result.stderr and "approvers" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read"), ("{not json", "is not valid JSON")],
)
def test_an_unreadable_ticket_file_is_a_clear_error(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "ticket.json"
    if content is not None:
        path.write_text(content, "utf-8")
    result = _cli("cards", "render", "--channel", "email", "--ticket", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_help_does_not_import_the_platform_sdks() -> None:
    for args in (["--help"], ["cards", "--help"], ["cards", "render", "--help"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "bot", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "cards" in result.stdout
        # The SDKs take seconds to import: a CLI that loads them for --help is broken.
        assert "lark_oapi" not in result.stderr and "dingtalk_stream" not in result.stderr
