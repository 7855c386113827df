"""A gateway as a deployment runs it, and the sandbox platforms it talks to, for the fault tests.

The sandbox Lark app, DingTalk app and ticket backend live in the test process, so they outlive
the gateway: ``approval-gateway serve`` runs as a subprocess configured only through environment
variables (as ``tests/deploy`` does), and can be SIGKILLed and started again on the same data
directory while the platforms keep what every user received.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from bot.channels.dingtalk.inbound import out_track_id
from bot.channels.lark.channel import message_uuid
from bot.core.models import ClickAction
from bot.settings.config import ensure_backend_secret
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import click_params
from sandbox.dingtalk.sandbox import DingTalkSandbox, SandboxCard, SandboxError
from sandbox.lark.platform import button_values, state_of
from sandbox.lark.sandbox import DeliveryError, LarkSandbox, SandboxMessage
from tests.conftest import fast_settings
from tests.gateway.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
LARK_APP = ("cli_faults", "faults-lark-secret")
DINGTALK_APP = ("ding_faults", "faults-dingtalk-secret", "faults_robot")
CLICK_TIMEOUT = 3.0  # both platforms count a click unanswered after 3 s as failed
CONNECTION_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
# A graceful stop still running after this long has overrun (the gateway bounds its own stop at
# OUTBOX__SHUTDOWN_GRACE_SECONDS plus a margin, well below it).
STOP_BOUND = 30.0
STDOUT = asyncio.subprocess.STDOUT


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Platforms:
    """Sandbox Lark and DingTalk apps, users on both, and the sandbox ticket backend."""

    backend: SandboxBackend
    lark: LarkSandbox = field(
        default_factory=lambda: LarkSandbox(app_id=LARK_APP[0], app_secret=LARK_APP[1])
    )
    dingtalk: DingTalkSandbox = field(
        default_factory=lambda: DingTalkSandbox(
            client_id=DINGTALK_APP[0], client_secret=DINGTALK_APP[1], robot_code=DINGTALK_APP[2]
        )
    )

    def start(self) -> None:
        """Start both platform stand-ins (each on its own thread)."""
        self.lark.start()
        self.dingtalk.start()

    def stop(self) -> None:
        """Stop both platform stand-ins."""
        self.lark.stop()
        self.dingtalk.stop()

    def add_users(self, count: int) -> list[tuple[str, str, str]]:
        """``count`` approvers on each platform; the binding rows ``(account, channel, address)``."""
        rows = []
        for i in range(count):
            self.lark.add_user(f"ou_l{i}", name=f"Lark {i}")
            self.dingtalk.add_user(f"staff_d{i}", name=f"DingTalk {i}")
            rows += [(f"l{i}", "lark", f"ou_l{i}"), (f"d{i}", "dingtalk", f"staff_d{i}")]
        return rows

    def env(self) -> dict[str, str]:
        """The settings that point a gateway's real channels at these stand-ins."""
        return {
            "APPROVAL_GATEWAY_LARK__APP_ID": LARK_APP[0],
            "APPROVAL_GATEWAY_LARK__APP_SECRET": LARK_APP[1],
            "APPROVAL_GATEWAY_LARK__DOMAIN": self.lark.base_url,
            "APPROVAL_GATEWAY_DINGTALK__CLIENT_ID": DINGTALK_APP[0],
            "APPROVAL_GATEWAY_DINGTALK__CLIENT_SECRET": DINGTALK_APP[1],
            "APPROVAL_GATEWAY_DINGTALK__ROBOT_CODE": DINGTALK_APP[2],
            "APPROVAL_GATEWAY_DINGTALK__API_BASE": self.dingtalk.base_url,
            "APPROVAL_GATEWAY_DINGTALK__OAPI_BASE": self.dingtalk.base_url,
        }

    # -- what users hold, and their taps ----------------------------------------------------

    def lark_message(self, open_id: str, delivery_id: str) -> SandboxMessage | None:
        """The Lark card message of a delivery (the channel sends it with the delivery's uuid)."""
        found = [m for m in self.lark.cards(open_id) if m.uuid == message_uuid(delivery_id)]
        assert len(found) <= 1, f"{open_id} holds {len(found)} cards for {delivery_id}"
        return found[0] if found else None

    def dingtalk_card(self, user_id: str, delivery_id: str) -> SandboxCard | None:
        """The DingTalk card of a delivery in the user's robot chat (keyed by outTrackId)."""
        track = out_track_id(delivery_id)
        found = [c for c in self.dingtalk.cards(user_id) if c.out_track_id == track]
        assert len(found) <= 1, f"{user_id} holds {len(found)} cards for {delivery_id}"
        return found[0] if found else None

    def card_state(self, channel: str, address: str, delivery_id: str) -> str | None:
        """What the user's card for the delivery shows now (None: no card yet)."""
        if channel == "lark":
            message = self.lark_message(address, delivery_id)
            return state_of(message.content) if message else None
        card = self.dingtalk_card(address, delivery_id)
        return card.params.get("state") if card else None

    async def approve(self, channel: str, address: str, delivery_id: str) -> bool:
        """Tap Approve on the user's card over the platform's stream; False if unanswered."""
        try:
            if channel == "lark":
                return await self._approve_lark(address, delivery_id)
            return await self._approve_dingtalk(address, delivery_id)
        except (DeliveryError, SandboxError, TimeoutError):
            return False  # the phone shows the platform's error; the user taps again

    async def _approve_lark(self, open_id: str, delivery_id: str) -> bool:
        message = self.lark_message(open_id, delivery_id)
        if message is None:
            return False
        values = [v for v in button_values(message.content) if v.get("action") == "approve"]
        if not values:
            return False
        await self.lark.click(
            open_id,
            message.message_id,
            values[0],
            form_value={"comment": ""},
            timeout=CLICK_TIMEOUT,
        )
        return True

    async def _approve_dingtalk(self, user_id: str, delivery_id: str) -> bool:
        card = self.dingtalk_card(user_id, delivery_id)
        if card is None or card.params.get("state") != "pending":
            return False  # decided since: the buttons are gone
        params = click_params(card.params, ClickAction.APPROVE)
        await self.dingtalk.click(
            user_id, card.out_track_id, params, action_id="approve_button", timeout=CLICK_TIMEOUT
        )
        return True


@dataclass
class GatewayProcess:
    """``approval-gateway serve`` on a fixed port and data directory, started and killed."""

    data_dir: Path
    env: dict[str, str]
    log: IO[bytes]
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    overran: list[str] = field(default_factory=list)  # a line per stop that outlasted its bound
    command: tuple[str, ...] = ("-m", "bot", "serve")  # what the interpreter runs
    _drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The gateway's base URL (the same across restarts)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start ``serve`` and return once it listens."""
        env = {
            **os.environ,
            **self.env,
            "APPROVAL_GATEWAY_DATA_DIR": str(self.data_dir),
            "APPROVAL_GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.command,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log,
        )
        self.starts += 1
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
            self.log.write(line)
            assert line, "the gateway exited before it listened"
            if b"listening" in line:
                break
        # Read stdout for the whole life of the process: a full pipe would block its writes.
        self._drain = asyncio.create_task(_copy(self.proc.stdout, self.log))

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, leases and half-done work left behind."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        await self._drained()

    async def stop(self, bound: float = STOP_BOUND) -> int:
        """SIGTERM and wait for the graceful stop; returns the exit status.

        A stop still running after ``bound`` seconds is recorded in :attr:`overran`, with the
        process's stacks (py-spy, and the gateway's own SIGUSR1 dump) written to the log, and
        then SIGKILLed: the exit status is then -9.
        """
        if self.proc is None:
            return 0
        proc = self.proc
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(asyncio.shield(proc.wait()), bound)
        except TimeoutError:
            await self._evidence(proc, bound)
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            code = await proc.wait()
        await self._drained()
        return code

    async def _evidence(self, proc: asyncio.subprocess.Process, bound: float) -> None:
        self.overran.append(f"pid {proc.pid} still stopping after {bound:g} s")
        self.log.write(f"\n=== pid {proc.pid} still stopping after {bound:g} s ===\n".encode())
        self.log.write(await py_spy_dump(proc.pid))
        self.log.flush()
        proc.send_signal(signal.SIGUSR1)  # the gateway logs its tasks' await chains
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), 2)

    async def _drained(self) -> None:
        if self._drain is not None:
            await self._drain
        self._drain = None
        self.proc = None
        self.log.flush()

    def outbox(self) -> dict[str, int]:
        """Outbox jobs per state, read straight from the database file."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "gateway.db")) as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def skipped(self) -> set[str]:
        """Deliveries never sent because their request was decided first (no card to show)."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "gateway.db")) as conn:
            rows = conn.execute("SELECT id FROM deliveries WHERE state = 'skipped'").fetchall()
        return {str(row[0]) for row in rows}


async def _copy(stream: asyncio.StreamReader, log: IO[bytes]) -> None:
    while line := await stream.readline():
        log.write(line)
        log.flush()  # the children write their stderr to the same file


async def py_spy_dump(pid: int) -> bytes:
    """``py-spy dump`` of a process (every thread's Python stack), or why there is none."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return b"(no py-spy in this environment: pip install py-spy)\n"
    proc = await asyncio.create_subprocess_exec(
        str(spy), "dump", "--pid", str(pid), stdout=asyncio.subprocess.PIPE, stderr=STDOUT
    )
    out, _ = await proc.communicate()
    return out


def gateway_env(data_dir: Path, backend: SandboxBackend, platforms: Platforms) -> dict[str, str]:
    """A deployment's settings: no sandbox, the platforms and backend above, a fast outbox."""
    return {
        "APPROVAL_GATEWAY_SANDBOX": "false",
        "APPROVAL_GATEWAY_BACKEND_URL": backend.url,
        "APPROVAL_GATEWAY_BACKEND_SECRET": backend.secret,
        "APPROVAL_GATEWAY_LOG_LEVEL": "WARNING",
        "APPROVAL_GATEWAY_OUTBOX__LEASE_SECONDS": "2",
        "APPROVAL_GATEWAY_OUTBOX__POLL_SECONDS": "0.05",
        "APPROVAL_GATEWAY_OUTBOX__BACKOFF_BASE_SECONDS": "0.05",
        "APPROVAL_GATEWAY_OUTBOX__BACKOFF_CAP_SECONDS": "0.5",
        "APPROVAL_GATEWAY_OUTBOX__EXPIRY_SWEEP_SECONDS": "1",
        **platforms.env(),
    }


def backend_secret(data_dir: Path) -> str:
    """The shared secret, generated into the data directory as a first start would."""
    return ensure_backend_secret(fast_settings(data_dir))


async def prepare(data_dir: Path, env: dict[str, str], bindings: list[tuple[str, str, str]]) -> str:
    """Import the bindings and create an admin token with the CLI; returns the token."""
    csv_file = data_dir.parent / "bindings.csv"
    lines = ["account_id,channel,address", *(",".join(row) for row in bindings)]
    csv_file.write_text("\n".join(lines) + "\n")
    cli_env = {**env, "APPROVAL_GATEWAY_DATA_DIR": str(data_dir)}
    imported = await run_cli("bindings", "import", str(csv_file), env=cli_env)
    assert imported.code == 0, imported.output
    created = await run_cli("tokens", "create", "--role", "admin", env=cli_env)
    assert created.code == 0, created.output
    return created.out.strip().splitlines()[-1]


async def authorize(url: str, token: str, channel: str) -> None:
    """An admin accepts the channel's current notice over the API (credentials from settings)."""
    headers = {"authorization": f"Bearer {token}"}
    path = f"{url}/v1/channels/{channel}/authorization"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(path) as response:
            assert response.status == 200, await response.text()
            version = (await response.json())["version"]
        body = {"accept_notice": True, "notice_version": version}
        async with http.post(path, json=body) as response:
            assert response.status == 200, await response.text()


async def submit_until_accepted(
    backend: SandboxBackend, ticket: dict[str, Any], request_id: str
) -> dict[str, Any]:
    """Submit as a backend does: the same request id, signed afresh, until a 202 comes back."""
    while True:
        try:
            status, body = await backend.submit(ticket, request_id=request_id)
        except CONNECTION_ERRORS:
            status, body = 0, None
        if status == 202:
            assert isinstance(body, dict)
            return body
        # Down, or killed mid-request: the resend under the same request id acts at most once.
        await asyncio.sleep(0.1)
