"""Secrets at rest: sealed in the database file, readable after rotation, wrong key refused."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from bot.channel_access.credentials import ChannelCredentials
from bot.cli import main
from bot.errors import StoreError
from bot.secrets import SecretBox, key_file, new_key, read_key_file
from tests.conftest import fast_settings

SECRET = "plaintext-app-secret-4242"


def test_a_blob_opens_only_under_its_own_name_and_key() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal("channel:lark", SECRET.encode())
    assert SECRET.encode() not in sealed.blob
    assert box.open("channel:lark", sealed) == SECRET.encode()
    with pytest.raises(StoreError):
        box.open("channel:email", sealed)
    with pytest.raises(StoreError):
        SecretBox([new_key()]).open("channel:lark", sealed)


async def _store_credentials(data: Path) -> None:
    from sandbox.embedded import start

    embedded = await start(fast_settings(data))
    try:
        gateway = embedded.gateway
        repo = ChannelCredentials(gateway.store, gateway.box)
        async with gateway.store.unit() as tx:
            await repo.put(tx, "lark", {"app_secret": SECRET}, gateway.clock.now())
    finally:
        await embedded.stop()


async def _read_credentials(data: Path) -> dict[str, str] | None:
    from sandbox.embedded import start

    embedded = await start(fast_settings(data))
    try:
        gateway = embedded.gateway
        return await ChannelCredentials(gateway.store, gateway.box).get("lark")
    finally:
        await embedded.stop()


def test_no_plaintext_in_the_file_rotation_keeps_it_readable_wrong_key_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    asyncio.run(_store_credentials(data))
    path = key_file(fast_settings(data))
    assert path.stat().st_mode & 0o777 == 0o600
    for name in ("gateway.db", "gateway.db-wal"):
        file = data / name
        if file.exists():
            assert SECRET.encode() not in file.read_bytes(), name

    before = read_key_file(path)
    monkeypatch.setenv("APPROVAL_GATEWAY_DATA_DIR", str(data))
    assert main(["keys", "rotate"]) == 0
    after = read_key_file(path)
    assert len(after) == 1 and after != before
    assert "re-sealed 2 secrets" in capsys.readouterr().out
    assert asyncio.run(_read_credentials(data)) == {"app_secret": SECRET}

    monkeypatch.setenv("APPROVAL_GATEWAY_MASTER_KEY", base64.b64encode(new_key()).decode())
    monkeypatch.setenv("APPROVAL_GATEWAY_LISTEN", "127.0.0.1:0")
    monkeypatch.setenv("APPROVAL_GATEWAY_SANDBOX_PLATFORMS", '["memory"]')
    assert main(["serve"]) == 2
    assert "master key does not open this database" in capsys.readouterr().err
