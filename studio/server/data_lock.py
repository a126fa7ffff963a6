"""One server process per ``--data`` directory.

The SQLite files under ``--data`` (and, with a PostgreSQL ``--store``, the
realm state caches there) are written by one process only: a second server
started on the same directory is refused with a clear error instead of
corrupting what the first one keeps. The lock is an ``flock`` on
``server.lock`` in the directory, so the kernel releases it when the
process dies however it dies (a SIGKILLed server can be restarted at once).
Several processes serving the same data share a PostgreSQL ``--store``,
each with a ``--data`` of its own (docs/server.md "Several processes").
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from studio.server.errors import ConfigError

LOCK_NAME: Final = "server.lock"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        """Take the lock of ``data_dir`` or raise ConfigError saying who holds it."""
        self.path = data_dir / LOCK_NAME
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot create the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"another server process (pid {holder}) is running on --data {data_dir}: "
                "stop it first; to run several processes, share a PostgreSQL --store "
                "and give each its own --data"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock
