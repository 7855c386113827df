"""``approval-gateway serve`` with the sandbox off: channels come from settings alone.

The gateway runs as a real process configured only through environment variables, as in a
deployment; the "real" DingTalk platform it talks to is the sandbox, reached by its API base URL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings.config import ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.sandbox import DingTalkSandbox
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, run_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dingtalk() -> Iterator[DingTalkSandbox]:
    sandbox = DingTalkSandbox(client_id="ding_prod", client_secret="prod-secret", robot_code="r1")
    sandbox.start()
    sandbox.add_user("staff42", name="Ann")
    yield sandbox
    sandbox.stop()


async def _run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    run = await run_cli(*args, env=env)
    return run.code, run.output


async def test_serve_sends_cards_on_the_configured_channel(
    tmp_path: Path, dingtalk: DingTalkSandbox
) -> None:
    data_dir = tmp_path / "data"
    secret = ensure_backend_secret(fast_settings(data_dir))
    backend = SandboxBackend(secret=secret)
    await backend.start()
    port = _free_port()
    env = {
        **os.environ,
        "APPROVAL_GATEWAY_DATA_DIR": str(data_dir),
        "APPROVAL_GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "APPROVAL_GATEWAY_SANDBOX": "false",
        "APPROVAL_GATEWAY_BACKEND_URL": backend.url,
        "APPROVAL_GATEWAY_BACKEND_SECRET": secret,
        "APPROVAL_GATEWAY_OUTBOX__POLL_SECONDS": "0.1",
        "APPROVAL_GATEWAY_DINGTALK__CLIENT_ID": "ding_prod",
        "APPROVAL_GATEWAY_DINGTALK__CLIENT_SECRET": "prod-secret",
        "APPROVAL_GATEWAY_DINGTALK__ROBOT_CODE": "r1",
        "APPROVAL_GATEWAY_DINGTALK__API_BASE": dingtalk.base_url,
    }
    code, out = await _run(
        "bindings", "set", "acc-42", "--channel", "dingtalk", "--address", "staff42", env=env
    )
    assert code == 0, out
    code, out = await _run("tokens", "create", "--role", "admin", env=env)
    assert code == 0, out
    token_file = tmp_path / "admin.token"
    token_file.write_text(out.strip().splitlines()[-1])
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 30)
        assert b"listening" in line, line
        assert b"whsec_" not in line
        # A real platform sends nothing before an admin's consent: authorize it over the API.
        code, out = await _run(
            "channels",
            "authorize",
            "dingtalk",
            "--yes",
            "--url",
            f"http://127.0.0.1:{port}",
            "--token-file",
            str(token_file),
            env=env,
        )
        assert code == 0 and "dingtalk: authorized" in out, out
        assert "credentials accepted by the platform" in out
        assert "prod-secret" not in out
        await dingtalk.wait_connected()
        backend.gateway_url = f"http://127.0.0.1:{port}"
        status, _ = await backend.submit(sample_ticket("T-PROD", [approver("acc-42", "Ann")]))
        assert status == 202

        async def delivered() -> bool:
            return bool(dingtalk.cards("staff42"))

        await eventually(delivered, within=20)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 20)
        await backend.stop()
    assert server.returncode == 0, "SIGTERM stops the gateway gracefully"


async def test_serve_without_any_channel_refuses_to_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "APPROVAL_GATEWAY_DATA_DIR": str(tmp_path),
        "APPROVAL_GATEWAY_SANDBOX": "false",
        "APPROVAL_GATEWAY_BACKEND_URL": "http://127.0.0.1:9/decisions",
    }
    code, out = await _run("serve", env=env)
    assert code == 2 and "no channel is configured" in out
