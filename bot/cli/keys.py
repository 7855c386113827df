"""``approval-gateway keys rotate``: re-seal every stored secret under a new master key.

With the generated key file (``DATA_DIR/master.key``) the new key is written first, *above* the
old one, so every process reading the file can open both while rows are re-sealed; once the one
transaction commits, the old key is dropped from the file. Safe while gateways run: they re-read
the file before sealing, so nothing is sealed under the retired key. With ``APPROVAL_GATEWAY_MASTER_KEY``,
pass the new key in a file (``--new-key-file``); afterwards set it as the master key and keep the
old one in ``APPROVAL_GATEWAY_MASTER_KEY_PREVIOUS`` until every gateway has restarted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli._group import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    """Register ``keys rotate``."""
    group = subparsers.add_parser("keys", help="the master key sealing secrets at rest")
    cmd = group.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    rotate = cmd.add_parser("rotate", help="re-encrypt every secret under a new master key")
    rotate.add_argument("--new-key-file", type=Path, help="the new key (base64); default: generate")
    rotate.set_defaults(run=_rotate)


def _rotate(args: argparse.Namespace) -> int:
    from bot.cli._db import Storage, with_storage
    from bot.clock import SystemClock
    from bot.errors import ConfigError
    from bot.secrets import (
        SecretBox,
        decode_key,
        key_file,
        key_id,
        load_keys,
        new_key,
        rotate,
        verify_key,
        write_key_file,
    )
    from bot.settings.config import load_settings

    settings = load_settings(args.config)
    old = load_keys(settings, create=False)
    from_env = settings.master_key is not None
    if from_env and args.new_key_file is None:
        raise ConfigError("the master key comes from the environment: pass --new-key-file")
    new = (
        decode_key(args.new_key_file.read_text(), str(args.new_key_file))
        if args.new_key_file
        else new_key()
    )
    path = key_file(settings)

    async def run(storage: Storage) -> int:
        store = storage.store
        await verify_key(store, SecretBox(old), SystemClock().now())
        if not from_env:
            write_key_file(path, [new, *old])  # both readable until the rows are re-sealed
        # A running gateway seals under the file's head from here on: the new key must open too.
        count = await rotate(store, SecretBox([new, *old]), new, SystemClock().now())
        if not from_env:
            write_key_file(path, [new])
        return count

    count = with_storage(settings, run)
    print(f"re-sealed {count} secrets under key {key_id(new)} (was {key_id(old[0])})")
    if from_env:
        print(
            "now set APPROVAL_GATEWAY_MASTER_KEY to the new key and keep the old one in "
            "APPROVAL_GATEWAY_MASTER_KEY_PREVIOUS until every gateway has restarted"
        )
    return 0
