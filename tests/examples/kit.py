"""Shared pieces of the kit tests: a ticket, a secret, and running an example as a process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.http.samples import TICKET

ROOT = Path(__file__).resolve().parents[2]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def ticket(ticket_id: str, approver: str = "2001") -> dict[str, Any]:
    """The README's ticket, due in an hour, for one approver."""
    return {
        **TICKET,
        "ticket_id": ticket_id,
        "approvers": [{**TICKET["approvers"][0], "account_id": approver}],
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }


async def run_example(module: str, *args: str, within: float = 60) -> tuple[int, dict[str, Any]]:
    """``python -m examples.MODULE ARGS`` from the repository root: exit status and JSON output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"examples.{module}",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert out, err.decode()
    return proc.returncode or 0, json.loads(out.decode().strip().splitlines()[-1])
