"""Keeping the server's secrets away from the other users of its host.

The data directory holds the user database and, unless ``--token-key-file``
is given, the key that signs every token: whoever reads it can mint an admin
token. So the directory is created ``0700`` and the files in it ``0600``; a
server refuses to start on a directory that other users may enter or read
(unless ``--allow-insecure-data-dir``), and a file that holds a secret (key
file, admin password file) must not be readable by other users either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from studio.server.errors import ConfigError

PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
MIN_TOKEN_KEY_BYTES: Final = 32
MAX_TOKEN_KEY_BYTES: Final = 4096
_OTHERS: Final = stat.S_IRWXG | stat.S_IRWXO


def prepare_data_dir(path: Path, *, allow_insecure: bool) -> None:
    """Create ``path`` (mode 0700) or check that only its owner may use it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_DIR_MODE)
        os.chmod(path, PRIVATE_DIR_MODE)  # whatever the umask
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {path}: {exc}") from exc
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot use the data directory {path}: {exc}") from exc
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"the data directory {path} is not a directory")
    if mode & _OTHERS and not allow_insecure:
        raise ConfigError(
            f"the data directory {path} has mode {stat.S_IMODE(mode):04o}: other users of "
            "this host could read the user database and the token signing key (and mint "
            f"an admin token). Run 'chmod 700 {path}' (or start with "
            "--allow-insecure-data-dir if something else protects it)"
        )


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret file that other users may read or change."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    if mode & _OTHERS:
        raise ConfigError(
            f"{what} {path} has mode {stat.S_IMODE(mode):04o}: other users of this host "
            f"could read the secret in it. Run 'chmod 600 {path}'"
        )


def read_token_key(path: Path) -> bytes:
    """The token signing key in ``path``: its bytes without surrounding
    whitespace, at least 32 of them (e.g. ``openssl rand -hex 32 > FILE``)."""
    check_private_file(path, "--token-key-file")
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read --token-key-file {path}: {exc.strerror or exc}") from None
    if not MIN_TOKEN_KEY_BYTES <= len(key) <= MAX_TOKEN_KEY_BYTES:
        raise ConfigError(
            f"--token-key-file {path} holds {len(key)} bytes; a key has "
            f"{MIN_TOKEN_KEY_BYTES} to {MAX_TOKEN_KEY_BYTES} (make one with "
            f"'openssl rand -hex 32 > {path}')"
        )
    return key


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 (SQLite gives a database's
    -wal and -shm files the mode of the database itself)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & _OTHERS:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # made by an older version
    finally:
        os.close(fd)


def make_private(path: Path) -> None:
    """Take other users' access away from ``path`` if it exists."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if stat.S_IMODE(mode) & _OTHERS:
        os.chmod(path, PRIVATE_FILE_MODE)
