"""``delegations list|set|clear`` on the gateway's database; what the CLI sets the API reads."""

from __future__ import annotations

from datetime import timedelta

from sandbox.embedded import Embedded
from tests.gateway.helpers import parts, run_cli


async def _cli(stack: Embedded, *args: str) -> tuple[int, str, str]:
    return await run_cli(*args, data_dir=stack.gateway.settings.data_dir)


async def test_delegations_cli_sets_lists_refuses_and_clears(stack: object) -> None:
    embedded, backend, _ = parts(stack)
    until = (embedded.gateway.clock.now() + timedelta(days=2)).isoformat()
    code, out, err = await _cli(embedded, "delegations", "set", "ann", "bo", "--until", until)
    assert code == 0 and out.startswith("ann\tbo\t"), err
    code, out, err = await _cli(embedded, "delegations", "set", "bo", "ann", "--until", until)
    assert code == 2 and "cycle bo -> ann -> bo" in err, (out, err)
    code, _, err = await _cli(embedded, "delegations", "set", "bo", "cy", "--until", "2026-13-01")
    assert code == 2 and "ISO 8601" in err

    code, out, _ = await _cli(embedded, "delegations", "list")
    assert code == 0 and [line.split("\t")[:2] for line in out.splitlines()] == [["ann", "bo"]]
    assert out.split("\t")[-1].strip().startswith("cli")
    _, seen = await backend.call("GET", "/v1/me/delegation?account_id=ann")
    assert [d["delegate_id"] for d in seen["delegations"]] == ["bo"]

    code, out, _ = await _cli(embedded, "delegations", "clear", "ann")
    assert code == 0 and "1 delegation cleared" in out
    code, out, _ = await _cli(embedded, "delegations", "list", "ann")
    assert out.strip() == "no delegations now or ahead"
