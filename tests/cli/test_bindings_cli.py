"""``approval-gateway bindings``: run as a subprocess against the data dir, as an admin would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts, run_cli


async def _cli(data_dir: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    return await run_cli("bindings", *args, data_dir=data_dir, cwd=cwd)


async def test_set_show_list_remove(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out, err = await _cli(
        data, "set", "r-1", "--channel", "email", "--address", "r@X.example", "--verified"
    )
    assert code == 0, err
    assert out.split("\t")[:4] == ["r-1", "email", "r@x.example", "admin-verified"]
    await _cli(data, "set", "r-1", "--channel", "lark", "--address", "ou_1")
    await _cli(data, "set", "r-2", "--channel", "lark", "--address", "ou_2")

    code, out, _ = await _cli(data, "show", "r-1")
    assert [line.split("\t")[1] for line in out.splitlines()] == ["email", "lark"]
    code, out, _ = await _cli(data, "list", "--channel", "lark")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["r-1", "r-2"]
    code, out, _ = await _cli(data, "list", "--channel", "email", "--unbound")
    assert [line.split("\t")[:2] for line in out.splitlines()] == [["r-2", "lark"]]

    assert (await _cli(data, "remove", "r-1", "--channel", "lark"))[0] == 0
    code, _, err = await _cli(data, "remove", "r-1", "--channel", "lark")
    assert code == 2 and "no lark binding" in err
    code, _, err = await _cli(data, "show", "nobody")
    assert code == 1 and "no bindings" in err


async def test_invalid_set_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for channel, address in (("email", "nope"), ("telegram", "x")):
        code, _, err = await _cli(data, "set", "r-1", "--channel", channel, "--address", address)
        assert code == 2 and err.startswith("error:"), err
    assert (await _cli(data, "export"))[1] == "account_id,channel,address\n"


async def test_import_export_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = "account_id,channel,address\nr-1,email,a@corp.example\nr-1,lark,ou_1\nr-2,dingtalk,u2\n"
    (tmp_path / "in.csv").write_text(rows)
    code, _, err = await _cli(data, "import", "in.csv", cwd=tmp_path)
    assert code == 2 and "--verified-emails" in err  # email rows need the admin's word
    assert (await _cli(data, "export"))[1] == "account_id,channel,address\n"
    code, out, err = await _cli(data, "import", "in.csv", "--verified-emails", cwd=tmp_path)
    assert code == 0 and "imported 3" in out, err
    code, exported, _ = await _cli(data, "export")
    assert sorted(exported.splitlines()) == sorted(rows.splitlines())
    code, out, _ = await _cli(data, "show", "r-2")
    assert "\timport\tcli:" in out


async def test_import_is_all_or_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,channel,address\nr-1,lark,ou_1\nr-2,email,not-an-address\n")
    code, _, err = await _cli(data, "import", str(bad))
    assert code == 2 and "line 3" in err and "address" in err
    wrong_header = tmp_path / "header.csv"
    wrong_header.write_text("account,channel,address\nr-1,lark,ou_1\n")
    code, _, err = await _cli(data, "import", str(wrong_header))
    assert code == 2 and "header" in err
    assert (await _cli(data, "export"))[1] == "account_id,channel,address\n"


async def test_binding_set_while_the_gateway_runs_routes_the_next_card(stack: object) -> None:
    gateway, backend, memory = parts(stack)
    data = gateway.gateway.settings.data_dir
    code, _, err = await _cli(data, "set", "a-1", "--channel", "memory", "--address", "desk-1")
    assert code == 0, err
    await backend.submit(sample_ticket("T-CLI-BIND", [approver("a-1", "Ann")]))

    async def held() -> list[object]:
        return list(memory.held_by("desk-1"))

    assert len(await eventually(held)) == 1


def test_bindings_help_starts_fast() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "bindings", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "import" in result.stdout
    assert "asyncpg" not in result.stderr and "lark_oapi" not in result.stderr
