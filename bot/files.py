"""Private files in the data directory: the directory 0700, every file in it 0600, from creation.

The data directory holds the database (bindings, ticket text, the audit log) and the secrets, so
nothing in it is for other local users. Files are created with their final mode (``os.open`` with
a mode, never a ``chmod`` afterwards, so there is no window in which they are readable). SQLite
gives ``-wal`` and ``-shm`` the mode of the database file, which is why the store creates that
file here before SQLite opens it.

Secret files are written atomically: a temporary file in the same directory, fsync, then a link or
rename into place and an fsync of the directory. A crash leaves the old file or the new one, never
an empty or half-written one; a file found empty or damaged anyway is reported, not used.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from pathlib import Path

from bot.errors import ConfigError
from bot.logs import kv

log = logging.getLogger("bot.files")

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` as 0700, or tighten an existing looser one and its files (one warning)."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"the data directory {path} exists and is not a directory")
    tightened = [_tighten(path, DIR_MODE)]
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            tightened.append(_tighten(entry, FILE_MODE))
    changed = [item for item in tightened if item]
    if changed:
        log.warning(
            "data directory permissions tightened",
            extra=kv(data_dir=str(path), tightened=changed),
        )


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file unless one exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def write_new_secret_file(path: Path, text: str) -> bool:
    """Atomically create ``path`` (0600) holding ``text``; False when another process won the race.

    Linking the finished temporary file into place fails if the name exists, so of two processes
    starting at once exactly one writes, and neither ever sees a partial file.
    """
    tmp = _write_temp(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        os.replace(tmp, path)  # a filesystem without hard links: atomic, not exclusive
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _sync_dir(path.parent)
    return True


def replace_secret_file(path: Path, text: str) -> None:
    """Atomically replace ``path`` (0600) with ``text``."""
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_dir(path.parent)


def read_secret_file(path: Path, what: str) -> str:
    """The file's text, stripped; ConfigError when it cannot be read or is empty."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} from {path}: {exc}") from None
    if not text:
        raise ConfigError(f"{path} is empty: {what} was never written completely")
    return text


def _write_temp(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def _sync_dir(path: Path) -> None:
    # The new directory entry is durable only once the directory itself is synced.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tighten(path: Path, mode: int) -> str | None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode == 0:
        return None
    os.chmod(path, current & mode)
    return f"{path.name} {current:04o}->{current & mode:04o}"
