"""Choosing the storage backend from the configuration: ``--store`` names a
PostgreSQL database (a ``postgresql://`` URI or a libpq ``key=value``
string), ``memory:`` keeps everything in memory (tests); without it the
server keeps SQLite files under ``--data``. Backends other than SQLite are
imported only when chosen (their drivers are optional)."""

from __future__ import annotations

import re
from pathlib import Path

from studio.server.limits import DEFAULT_OPEN_REALM_FILES
from studio.server.storage.base import ServerStorage

MEMORY_STORE = "memory:"


def is_postgres_store(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://")) or "=" in store


def store_kind(store: str | None) -> str:
    """``sqlite``, ``postgresql`` or ``memory``; ValueError for anything else."""
    if store is None:
        return "sqlite"
    if store == MEMORY_STORE:
        return "memory"
    if is_postgres_store(store):
        return "postgresql"
    raise ValueError(
        f"--store {store!r} is not a PostgreSQL connection string: give "
        "postgresql://USER@HOST:PORT/DB or libpq's 'host=... dbname=...' form"
    )


def describe_store(store: str | None) -> str:
    """``store`` for logs: passwords replaced by ``***``."""
    if store is None:
        return "sqlite"
    hidden = re.sub(r"(://[^:/@?]*:)[^@/?]*@", r"\1***@", store)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", hidden)


def open_storage(
    store: str | None,
    data_dir: Path | None,
    *,
    max_open_realm_files: int = DEFAULT_OPEN_REALM_FILES,
    state_in_process: bool = False,
) -> ServerStorage:
    """The storage ``store`` names; ``data_dir`` holds the SQLite files, or
    for another store the local caches of realm states."""
    kind = store_kind(store)
    if kind == "memory":
        from studio.server.storage.memory import MemoryServerStorage

        return MemoryServerStorage()
    if kind == "postgresql":
        assert store is not None
        from studio.server.storage.postgres import PostgresServerStorage

        return PostgresServerStorage(
            store,
            data_dir,
            state_in_process=state_in_process,
            max_open_realm_files=max_open_realm_files,
        )
    from studio.server.storage.sqlite import SqliteServerStorage

    if data_dir is None:
        raise ValueError("SQLite storage needs a data directory (--data)")
    return SqliteServerStorage(
        data_dir, state_in_process=state_in_process, max_open_realm_files=max_open_realm_files
    )
