"""The container image's inputs, checked without a container runtime (there is none here):
the Dockerfile's final stage and build context, against the wheel and the app they ship."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.http.health import routes

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def _one(op: str) -> str:
    (arg,) = [arg for name, arg in _final_stage() if name == op]
    return arg


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user = _one("USER").split(":")
    assert user[0].isdigit() and int(user[0]) != 0, user  # numeric: runAsNonRoot can check it
    assert all(part.isdigit() and int(part) != 0 for part in user)


def test_the_healthcheck_asks_a_route_the_app_has() -> None:
    check = _one("HEALTHCHECK")
    assert "CMD" in check and "curl" not in check and "wget" not in check
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    paths = re.findall(r"/[a-z]+z\b", command[2])
    assert paths == ["/healthz"]
    assert "/healthz" in {getattr(route, "path", None) for route in routes}
    compile(command[2], "<healthcheck>", "exec")  # it is Python that runs


def test_the_entry_point_is_the_wheels_console_script(wheel: Path) -> None:
    entry = json.loads(_one("ENTRYPOINT"))
    assert entry == ["approval-gateway"]
    with zipfile.ZipFile(wheel) as archive:
        (points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(points).decode()
    assert re.search(r"^approval-gateway = bot\.cli:main$", scripts, re.M), scripts
    assert json.loads(_one("CMD")) == ["serve"]


def test_the_data_dir_is_the_volume_and_the_sandbox_is_off() -> None:
    env = dict(
        pair.split("=", 1) for op, arg in _final_stage() if op == "ENV" for pair in shlex.split(arg)
    )
    (volume,) = json.loads(_one("VOLUME"))
    assert env["APPROVAL_GATEWAY_DATA_DIR"] == volume
    assert env["APPROVAL_GATEWAY_SANDBOX"] == "false"  # the wheel has no sandbox to run
    assert env["APPROVAL_GATEWAY_LISTEN"].startswith("0.0.0.0:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # a read-only root filesystem stays clean


def test_the_bytecode_is_compiled_at_build_and_trusted_at_run() -> None:
    # The runtime writes no .pyc (read-only root): without them in the virtualenv, every start
    # would compile every module it imports.
    env = dict(
        pair.split("=", 1) for op, arg in _final_stage() if op == "ENV" for pair in shlex.split(arg)
    )
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    runs = [arg for op, arg in _instructions() if op == "RUN"]
    (build,) = [arg for arg in runs if "pip install" in arg]
    compiled = build.split("&&")[-1].split()
    assert compiled[:3] == ["/opt/approval-gateway/bin/python", "-m", "compileall"], build
    assert "/opt/approval-gateway/lib" in compiled
    assert "--invalidation-mode unchecked-hash" in " ".join(compiled)
    copied = [arg for op, arg in _final_stage() if op == "COPY"]
    assert "--from=build /opt/approval-gateway /opt/approval-gateway" in copied


def test_the_wheel_is_built_from_bot_and_cards_only() -> None:
    steps = _instructions()
    copies = [arg.split() for op, arg in steps if op == "COPY" and not arg.startswith("--from")]
    sources = {source for args in copies for source in args[:-1]}
    assert sources == {"pyproject.toml", "README.md", "bot", "cards"}, sources
    assert any(op == "RUN" and arg.startswith("pip wheel") and " . " in arg for op, arg in steps)


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("bot/cli/__init__.py", True),
        ("cards/templates/email.html.j2", True),
        ("pyproject.toml", True),
        ("sandbox/demo.py", False),
        ("tests/conftest.py", False),
        ("data/gateway.db", False),
        (".venv/bin/python", False),
        ("bot/__pycache__/x.pyc", False),
        ("deploy/compose/secrets/gateway.toml", False),
    ],
)
def test_the_build_context_holds_only_what_the_wheel_needs(path: str, sent: bool) -> None:
    assert _in_context(path) is sent


def _in_context(path: str) -> bool:
    # .dockerignore semantics: the last matching pattern wins; "!" re-includes; a directory
    # pattern covers what is under it.
    included = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        pattern = pattern.replace("**/", "*")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            included = negate
    return included


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built as the Dockerfile builds it: `pip wheel .` on the checkout.
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        timeout=180,
    )
    (built,) = out.glob("approval_gateway-*.whl")
    names = zipfile.ZipFile(built).namelist()
    assert not [n for n in names if n.startswith("sandbox/")]  # what the image installs
    return built
