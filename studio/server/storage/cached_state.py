"""A realm's current state in a local cache file, built from a history that
is kept elsewhere (PostgreSQL, or memory in tests).

The cache is a ``studio.core`` realm file like the state part of an SQLite
realm file, kept up to date by the same state worker (state_worker.py): the
storage reads the history rows the state lacks and passes them in. It is
only a cache: deleting it loses nothing, the next update rebuilds it from
the history; a cache that is ahead of the history (the database was
restored from an older backup) is thrown away and rebuilt.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from studio.server.storage.base import RealmStats
from studio.server.storage.errors import StorageError
from studio.server.storage.state_worker import (
    LOCK_SUFFIX,
    StateWorker,
    apply_history,
    cached_stats,
    close_state,
    file_stats,
    open_state,
    state_cursor,
)

ReadRows = Callable[[int, int], Sequence[tuple[int, bytes]]]
"""``(since, limit)`` -> history rows ``(server_version, changeset bytes)``."""

_SUFFIXES: Final = ("", "-wal", "-shm", LOCK_SUFFIX)


class CachedState:
    def __init__(self, path: str, file: Path, worker: StateWorker) -> None:
        self.path = path
        self.file = file
        self._worker = worker
        worker.call(open_state, str(file), path)

    def update(self, read: ReadRows, latest: int, size: int, max_changesets: int) -> RealmStats:
        """Apply up to ``max_changesets`` history rows (``read``) to the cache;
        ``latest`` and ``size``: the history's latest version and bytes."""
        cursor = self._worker.call(state_cursor, str(self.file), self.path)
        if cursor > latest:
            self._rebuild()
            cursor = 0
        rows = read(cursor, max_changesets)
        return self._worker.call(apply_history, str(self.file), self.path, rows, latest, size)

    def stats(self, latest: int, size: int) -> RealmStats:
        return self._worker.call(cached_stats, str(self.file), self.path, latest, size)

    def _rebuild(self) -> None:
        self._worker.call(close_state, str(self.file))
        remove_cache_file(self.file)
        self._worker.call(open_state, str(self.file), self.path)

    def close(self) -> None:
        self._worker.call(close_state, str(self.file))


def remove_cache_file(file: Path) -> None:
    for suffix in _SUFFIXES:
        try:
            os.unlink(str(file) + suffix)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove the state cache {file}{suffix}: {exc}") from exc


def closed_realm_stats(worker: StateWorker, file: Path, latest: int, size: int) -> RealmStats:
    """Stats of a realm that is not open: object counts from its cache file
    if this process has one (else 0 until the realm is opened), versions and
    size from the history."""
    if not file.exists():
        return RealmStats(size, 0, latest, 0)
    cached = worker.call(file_stats, str(file))
    if cached.state_version > latest:  # stale cache: rebuilt when opened
        return RealmStats(size, 0, latest, 0)
    return dataclasses.replace(cached, server_version=latest, size_bytes=size)
