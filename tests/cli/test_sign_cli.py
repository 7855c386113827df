"""``approval-gateway sign`` prints headers a running gateway accepts, as the README uses them."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts, run_cli


def _headers(printed: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in printed.splitlines())


async def test_signed_headers_submit_and_a_resend_is_answered_again(
    stack: object, tmp_path: Path
) -> None:
    gateway, _, _ = parts(stack)
    body = tmp_path / "ticket.json"
    body.write_bytes(json.dumps(sample_ticket("T-CLI", [approver("a1", "Ann")])).encode())
    data_dir = gateway.gateway.settings.data_dir
    run = await run_cli(
        "sign",
        "POST",
        "/v1/approvals",
        "--body-file",
        str(body),
        "--id",
        "req-cli-0001",
        data_dir=data_dir,
    )
    assert run.code == 0, run.output
    headers = _headers(run.out)
    assert set(headers) == {"Content-Type", "Content-Digest", "Signature-Input", "Signature"}
    url = gateway.gateway.url + "/v1/approvals"
    async with aiohttp.ClientSession() as s:
        for expected in (None, "true"):
            async with s.post(url, data=body.read_bytes(), headers=headers) as r:
                assert r.status == 202, await r.text()
                assert r.headers.get("idempotent-replayed") == expected


async def test_a_missing_secret_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = await run_cli("sign", "GET", "/v1/approvals/T-1", data_dir=tmp_path / "none")
    assert run.code == 2
    assert run.err.startswith("error: cannot read the backend secret")
    assert not (tmp_path / "none").exists()


async def test_a_path_without_a_slash_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("whsec_" + "A" * 44)
    run = await run_cli("sign", "GET", "v1/x", "--secret-file", str(secret))
    assert run.code == 2 and "path" in run.err
