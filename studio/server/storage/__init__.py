"""Where the object server keeps its data, behind a small interface
(:mod:`~studio.server.storage.base`) so that another backend (PostgreSQL) can
be added without touching the protocol or merge code. The embedded default is
:class:`~studio.server.storage.sqlite.SqliteServerStorage`."""

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
from studio.server.storage.errors import AlreadyExists, Missing, StorageError

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
]
