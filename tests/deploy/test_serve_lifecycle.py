"""``approval-gateway serve`` that cannot start ends at once, with one line saying why."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.helpers import CliRun, run_cli


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _failed_start(run: CliRun) -> str:
    assert run.code == 2, run.output
    assert "Traceback" not in run.err, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("error: "), run.err
    return last


async def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path, port_in_use: int) -> None:
    # The embedded default, Lark and DingTalk streams included: nothing of it may start.
    env = {"APPROVAL_GATEWAY_LISTEN": f"127.0.0.1:{port_in_use}"}
    run = await run_cli("serve", env=env, data_dir=tmp_path / "data", within=20)
    line = _failed_start(run)
    assert f"cannot listen on 127.0.0.1:{port_in_use}: address already in use" in line
    assert run.err.strip() == line
    assert not (tmp_path / "data").exists(), "bound before anything else was made"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("backend_secret", "", "backend_secret is empty"),
        ("backend_secret", "whsec_AAAA", "backend_secret does not hold a whsec_ secret"),
        ("backend_secret", "whsec_not base64!", "backend_secret does not hold a whsec_ secret"),
        ("master.key", "", "master.key is empty"),
        ("master.key", "c2hvcnQ=\n", "master.key must be 32 bytes"),
    ],
)
async def test_a_torn_secret_file_is_one_line_and_exit_2(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / name).write_text(content)
    env = {
        "APPROVAL_GATEWAY_LISTEN": "127.0.0.1:0",
        "APPROVAL_GATEWAY_SANDBOX_PLATFORMS": '["memory"]',
    }
    run = await run_cli("serve", env=env, data_dir=data_dir, within=20)
    assert expected in _failed_start(run)
    assert "listening" not in run.out
