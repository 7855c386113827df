"""Starting and stopping the processes of a run: gateway hosts and the bare baseline."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# The gateway is configured the way an operator would: APPROVAL_GATEWAY_* variables only.
# The sandbox starts only the in-process memory channel; the real channels reach the shared
# platforms process.
PLATFORMS = "memory"
ORDER = "dingtalk,lark,email,memory"


@dataclass
class Proc:
    """A child process and the JSON line it announced itself with."""

    process: asyncio.subprocess.Process
    info: dict[str, Any]
    log: IO[bytes]

    async def stop(self) -> None:
        """SIGTERM, then wait (killed after 20 s)."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.close()

    def rss_mb(self) -> float:
        """Resident set size now, in MB (from /proc)."""
        return rss_mb(self.process.pid)


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clean_env() -> dict[str, str]:
    """This environment without any APPROVAL_GATEWAY_* setting of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("APPROVAL_GATEWAY_")}


def gateway_env(
    data_dir: Path, database_url: str | None, shared: dict[str, str] | None = None
) -> dict[str, str]:
    """The settings of a benchmarked gateway: defaults, the real channels and backend pointed
    at the shared platforms (``shared``, from ``bench.platforms``), the memory channel."""
    env = clean_env()
    env.update(shared or {})
    env.update(
        APPROVAL_GATEWAY_DATA_DIR=str(data_dir),
        APPROVAL_GATEWAY_LISTEN="127.0.0.1:0",
        APPROVAL_GATEWAY_SANDBOX="true",
        APPROVAL_GATEWAY_SANDBOX_PLATFORMS=PLATFORMS,
        # memory last: it reaches every account by id, so it takes only the accounts bound
        # nowhere else (the intake phases' approvers, whose cards cost no platform call)
        APPROVAL_GATEWAY_CHANNEL_ORDER=ORDER,
    )
    if database_url is not None:
        env["APPROVAL_GATEWAY_DATABASE_URL"] = database_url
    return env


async def start(module: str, env: dict[str, str], log_path: Path, within: float = 60) -> Proc:
    """Run ``python -m module``; wait for its JSON announcement line (stderr to ``log_path``)."""
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.PIPE, stderr=log
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), within)
    except TimeoutError:
        process.kill()
        raise RuntimeError(f"{module} did not start within {within}s; see {log_path}") from None
    if not line:
        await process.wait()
        raise RuntimeError(f"{module} exited {process.returncode}; see {log_path}")
    return Proc(process, json.loads(line), log)
