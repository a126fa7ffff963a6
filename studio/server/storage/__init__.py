"""Where the object server keeps its data, behind a small interface
(:mod:`~studio.server.storage.base`): SQLite files (the embedded default,
:mod:`~studio.server.storage.sqlite`), PostgreSQL
(:mod:`~studio.server.storage.postgres`, ``--store``; its driver is imported
only then) or memory (:mod:`~studio.server.storage.memory`, unit tests),
chosen by :func:`~studio.server.storage.factory.open_storage`."""

from __future__ import annotations

from studio.server.storage.base import (
    LoadedHistory,
    RealmRecord,
    RealmStats,
    RealmStorage,
    RealmWrite,
    ServerStorage,
    StoredEntry,
    UserRecord,
)
from studio.server.storage.errors import AlreadyExists, Missing, StorageError, VersionConflict
from studio.server.storage.factory import open_storage

__all__ = [
    "AlreadyExists",
    "LoadedHistory",
    "Missing",
    "RealmRecord",
    "RealmStats",
    "RealmStorage",
    "RealmWrite",
    "ServerStorage",
    "StorageError",
    "StoredEntry",
    "UserRecord",
    "VersionConflict",
    "open_storage",
]
