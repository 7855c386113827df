"""Secrets at rest: AES-GCM under a master key, with the key's id stored beside each blob.

The master key comes from ``APPROVAL_GATEWAY_MASTER_KEY`` (base64 of 32 bytes) or, when none is
configured, from ``DATA_DIR/master.key`` (mode 0600, created on first start). A key file may hold
several keys, one per line: the first seals, every one of them opens. ``keys rotate`` uses that to
re-encrypt without a window where anything is unreadable (see :func:`rotate`).

Every sealed value is bound to its name (the AES-GCM associated data), so a blob copied to
another row does not open. A sentinel row proves at start that the key matches the database: a
wrong key stops the gateway with a clear message instead of failing later on a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.core.ports import Store
from bot.core.storage import Sealed
from bot.errors import ConfigError, StoreError
from bot.files import private_dir, read_secret_file, replace_secret_file, write_new_secret_file
from bot.settings.config import Settings

KEY_FILE = "master.key"
KEY_BYTES = 32
NONCE_BYTES = 12
SENTINEL = "sentinel"
_SENTINEL_TEXT = b"approval-gateway master key check"


def key_id(key: bytes) -> str:
    """A short public name for a key: a hash prefix, never enough to learn the key."""
    return hashlib.sha256(b"approval-gateway key id:" + key).hexdigest()[:12]


def new_key() -> bytes:
    """A fresh random master key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The key as written to a key file or the environment."""
    return base64.b64encode(key).decode()


def decode_key(text: str, where: str) -> bytes:
    """A base64 key of exactly 32 bytes; ConfigError naming ``where`` otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{where} must be {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


class SecretBox:
    """Seals with the current key; opens with any key it holds (current first).

    ``reload`` (key-file deployments) reads the key ring again before every seal, and before
    giving up on a key it does not hold: ``keys rotate`` may have put a new key at the head of
    the file while this process runs, and nothing may be sealed under the key it retires.
    """

    def __init__(
        self, keys: Sequence[bytes], *, reload: Callable[[], Sequence[bytes]] | None = None
    ) -> None:
        if not keys:
            raise ConfigError("no master key")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self.current = key_id(keys[0])
        self._reload = reload

    def _refresh(self) -> None:
        if self._reload is None:
            return
        try:
            keys = self._reload()
        except (ConfigError, OSError) as exc:
            raise StoreError(f"cannot read the master key ring: {exc}") from None
        if not keys:
            raise StoreError("the master key ring is empty")
        # Keys read earlier stay loaded for opening; sealing follows the ring's head.
        self._keys.update({key_id(k): AESGCM(k) for k in keys})
        self.current = key_id(keys[0])

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key held, current first."""
        return list(self._keys)

    def seal(self, name: str, plaintext: bytes) -> Sealed:
        """Encrypt ``plaintext`` for the row called ``name`` under the newest key."""
        self._refresh()
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self.current].encrypt(nonce, plaintext, name.encode())
        return Sealed(self.current, blob)

    def open(self, name: str, sealed: Sealed) -> bytes:
        """Decrypt; StoreError when the key is not held or the blob was tampered with."""
        if sealed.key_id not in self._keys:
            self._refresh()
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise StoreError(f"{name} is sealed under key {sealed.key_id}, which is not loaded")
        try:
            return aead.decrypt(sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:], name.encode())
        except InvalidTag:
            raise StoreError(f"{name} does not decrypt under key {sealed.key_id}") from None


# --------------------------------------------------------------------------- keys


def key_file(settings: Settings) -> Path:
    """Where the generated master key lives when none is configured."""
    return settings.data_dir / KEY_FILE


def load_keys(settings: Settings, *, create: bool = True) -> list[bytes]:
    """The master keys, current first: from settings, else the key file (created if allowed);
    ``APPROVAL_GATEWAY_MASTER_KEY_PREVIOUS`` adds older keys for opening in either case."""
    if settings.master_key is not None:
        keys = [decode_key(settings.master_key.get_secret_value(), "APPROVAL_GATEWAY_MASTER_KEY")]
    else:
        path = key_file(settings)
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"no master key: set APPROVAL_GATEWAY_MASTER_KEY or create {path}"
                )
            write_key_file(path, [new_key()], exclusive=True)
        keys = read_key_file(path)
    return keys + [k for k in previous_keys(settings) if k not in keys]


def previous_keys(settings: Settings) -> list[bytes]:
    """``APPROVAL_GATEWAY_MASTER_KEY_PREVIOUS``: older keys (comma-separated), for opening."""
    previous = settings.master_key_previous
    if previous is None:
        return []
    parts = (p for p in previous.get_secret_value().split(",") if p.strip())
    return [decode_key(part, "APPROVAL_GATEWAY_MASTER_KEY_PREVIOUS") for part in parts]


def read_key_file(path: Path) -> list[bytes]:
    """Every key in the file, current first; ConfigError when it is empty or damaged."""
    text = read_secret_file(path, "the master key")
    return [decode_key(line, str(path)) for line in text.splitlines() if line.strip()]


def write_key_file(path: Path, keys: Sequence[bytes], *, exclusive: bool = False) -> None:
    """Write the keys (mode 0600), atomically: a crash leaves the old file or the new one.

    ``exclusive``: create only; when another process created the file first, keep theirs (two
    processes starting at once must not each seal under a different key).
    """
    private_dir(path.parent)
    text = "".join(encode_key(k) + "\n" for k in keys)
    if exclusive:
        write_new_secret_file(path, text)
    else:
        replace_secret_file(path, text)


# --------------------------------------------------------------------------- rows


async def verify_key(store: Store, box: SecretBox, now: datetime) -> None:
    """Refuse a master key that did not seal this database; seal the sentinel on first start."""
    async with store.unit() as uow:
        sentinel = await uow.credentials.get(SENTINEL)
        if sentinel is None:
            await uow.credentials.put(SENTINEL, box.seal(SENTINEL, _SENTINEL_TEXT), now)
            return
        try:
            box.open(SENTINEL, sentinel)
        except StoreError:
            raise ConfigError(
                f"the master key does not open this database (it was sealed under key "
                f"{sentinel.key_id}; this gateway has {', '.join(box.key_ids)}): set "
                "APPROVAL_GATEWAY_MASTER_KEY (or DATA_DIR/master.key) to the key it was created "
                "with"
            ) from None


async def open_box(settings: Settings, store: Store, now: datetime) -> SecretBox:
    """The secret box for this deployment, checked against the database."""
    # With the key file, re-read it before sealing: `keys rotate` may run beside this process.
    reload = None if settings.master_key is not None else lambda: load_keys(settings, create=False)
    box = SecretBox(load_keys(settings), reload=reload)
    await verify_key(store, box, now)
    return box


async def rotate(store: Store, box: SecretBox, new: bytes, now: datetime) -> int:
    """Re-seal every row under ``new`` in one transaction; returns how many rows.

    ``box`` must hold the old key(s). Nothing is unreadable at any point: before the commit the
    rows are under the old key, after it under the new one.
    """
    target = SecretBox([new])
    async with store.unit() as uow:
        rows = await uow.credentials.every()
        for name, sealed in rows:
            await uow.credentials.put(name, target.seal(name, box.open(name, sealed)), now)
        # Kept answers to signed requests are sealed too (a binding code is a secret); a resend
        # after the rotation must still open its answer.
        answers = await uow.credentials.sealed_answers()
        for request_id, sealed in answers:
            name = answer_name(request_id)
            resealed = target.seal(name, box.open(name, sealed))
            await uow.credentials.reseal_answer(request_id, resealed)
    return len(rows) + len(answers)


def answer_name(request_id: str) -> str:
    """What a kept answer is sealed under: its AES-GCM associated data, so a blob moved to
    another request id does not open."""
    return f"signed-answer:{request_id}"


__all__ = ["Sealed", "SecretBox", "answer_name", "open_box", "rotate", "verify_key"]
