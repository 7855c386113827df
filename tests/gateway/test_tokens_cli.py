"""Tokens are created, used and revoked through the CLI, and checked by the HTTP API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp

from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts, run_cli


async def _cli(data_dir: Path, *args: str) -> tuple[int, str]:
    run = await run_cli(*args, data_dir=data_dir)
    return run.code, run.output


async def _get(url: str, token: str) -> int:
    headers = {"authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status


async def test_support_token_reads_traces_until_revoked(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    data_dir = gateway.gateway.settings.data_dir
    await backend.submit(sample_ticket("T-TOK", [approver("a1", "Ann")]))
    code, created = await _cli(data_dir, "tokens", "create", "--role", "support", "--label", "hd")
    assert code == 0, created
    token = created.strip().splitlines()[-1]
    token_id = created.split()[1]
    url = f"{gateway.gateway.url}/v1/approvals/T-TOK"
    assert await _get(url, token) == 200
    code, listed = await _cli(data_dir, "tokens", "list")
    assert token_id in listed and token not in listed
    assert (await _cli(data_dir, "tokens", "revoke", token_id))[0] == 0
    assert await _get(url, token) == 401


def test_cli_help_and_version_start_fast() -> None:
    for args in (["--help"], ["--version"], ["tokens", "--help"], ["approvals", "show", "--help"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "bot", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        # The SDKs take seconds to import: a CLI that loads them for --help is broken.
        assert "lark_oapi" not in result.stderr and "dingtalk_stream" not in result.stderr
