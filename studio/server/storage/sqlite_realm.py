"""One realm in one SQLite file: a ``studio.core`` realm file (the realm's
current state, readable with any studio tool) that also holds the server's
history tables.

Layout (besides the core's own tables, docs/storage-layout.md)::

    _server_meta(key TEXT PRIMARY KEY, value)            format, realm path,
                                                         history_base (compaction floor)
    _server_history(server_version INTEGER PRIMARY KEY,   one row per version
        origin_file_ident, client_version, timestamp_ms,
        integrated_at_ms, user, changeset BLOB)           studio.sync.changeset wire bytes
    _server_clients(ident INTEGER PRIMARY KEY, user,      client file idents handed out
        created_ms, progress, user_id, salt,             (owner account and salt: idents.py)
        floor_client_version)                            (last client version compacted)

After a compaction the history rows up to ``history_base`` are the snapshot
(origin 0, see studio.sync.history.ServerHistory.compact): replaced in one
transaction with the floor and the clients' floors.

The history is the truth and is written with ``synchronous=FULL`` on its own
connection: an append is on disk when :meth:`append` returns. The state is
derived: :meth:`update_state` applies history rows to it through the core
(``studio.core.synced.apply_remote``) and records how far it got in the same
transaction (the ``server_version`` sync value), so after a crash it simply
continues. Every state operation runs in the state worker (a child process,
see state_worker.py); appends and state transactions take turns through the
file's :class:`WriteLock`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Final

from studio.server.storage.base import (
    ClientIdent,
    CompactionFigures,
    LoadedHistory,
    RealmStats,
    RealmStorage,
    RealmWrite,
    StoredEntry,
    check_compaction,
    check_next_version,
    snapshot_rows,
)
from studio.server.storage.errors import (
    StorageError,
    out_of_file_descriptors,
    too_many_open_files,
)
from studio.server.storage.state_worker import (
    StateWorker,
    WriteLock,
    close_state,
    open_state,
    state_stats,
    update_state,
)
from studio.sync import timeline
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import SyncError
from studio.sync.history import Compaction, HistoryEntry

FORMAT: Final = "studio-server-1"

_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS _server_meta (key TEXT PRIMARY KEY, value)",
    """CREATE TABLE IF NOT EXISTS _server_history (
        server_version INTEGER PRIMARY KEY,
        origin_file_ident INTEGER NOT NULL,
        client_version INTEGER NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        integrated_at_ms INTEGER NOT NULL,
        user TEXT NOT NULL,
        changeset BLOB NOT NULL)""",
    # A changeset is integrated once: a bug that tried to store one twice
    # fails the commit (and so the acknowledgement) instead of duplicating it.
    """CREATE UNIQUE INDEX IF NOT EXISTS _server_history_origin
        ON _server_history (origin_file_ident, client_version)""",
    """CREATE TABLE IF NOT EXISTS _server_clients (
        ident INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        user_id TEXT,
        salt INTEGER,
        floor_client_version INTEGER NOT NULL DEFAULT 0)""",
)
_CLIENT_COLUMNS_ADDED: Final = (
    ("user_id", "TEXT"),
    ("salt", "INTEGER"),
    ("floor_client_version", "INTEGER NOT NULL DEFAULT 0"),
)
"""Columns added since the first release: added to older files when opened
(their idents then have none; idents.py adopts them on their next bind)."""


def _entry_from_row(row: tuple[int, int, int, int, int, str, bytes]) -> StoredEntry:
    version, origin, client_version, timestamp, integrated_at, user, blob = row
    changeset = decode_changeset(blob)
    return StoredEntry(
        HistoryEntry(version, origin, client_version, timestamp, changeset, integrated_at), user
    )


_HISTORY_COLUMNS: Final = (
    "server_version, origin_file_ident, client_version, timestamp_ms, "
    "integrated_at_ms, user, changeset"
)


def _insert_many(
    conn: sqlite3.Connection, head: str, rows: list[tuple[Any, ...]], tail: str = ""
) -> None:
    """Insert rows with multi-row VALUES statements. ``executemany`` would
    release and re-take the GIL once per row, and under load (the event loop
    busy merging) each re-take waits for the GIL switch interval: a commit
    of 200 rows could take a second instead of a few milliseconds."""
    if not rows:
        return
    width = len(rows[0])
    per = max(1, 30_000 // width)  # stay below SQLite's variable limit
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        values = ", ".join([one] * len(chunk))
        conn.execute(f"{head} VALUES {values}{tail}", [v for row in chunk for v in row])


def _stored_base(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM _server_meta WHERE key = 'history_base'").fetchone()
    return int(row[0]) if row else 0


class SqliteRealmStorage(RealmStorage):
    def __init__(self, path: str, file: Path, worker: StateWorker) -> None:
        self.path = path
        self._file = file
        self._worker = worker
        self._lock = threading.Lock()
        """Guards the history connection."""
        self._write_lock = WriteLock(file)
        """One writer at a time on the file (history append or state update),
        taken before ``_lock``."""
        self._closed = False
        # The worker creates the file through the core (its layout first: the
        # core refuses to adopt an SQLite file that has tables but no realm
        # metadata).
        worker.call(open_state, str(file), path)
        try:
            conn = sqlite3.connect(
                str(file), isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for ddl in _DDL:
                conn.execute(ddl)
            columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(_server_clients)")}
            for name, kind in _CLIENT_COLUMNS_ADDED:
                if name not in columns:
                    conn.execute(f"ALTER TABLE _server_clients ADD COLUMN {name} {kind}")
            conn.execute(
                "INSERT OR IGNORE INTO _server_meta VALUES ('format', ?), ('path', ?)",
                (FORMAT, path),
            )
            found = conn.execute("SELECT value FROM _server_meta WHERE key='format'").fetchone()
        except sqlite3.Error as exc:
            worker.call(close_state, str(file))
            # SQLite says "unable to open database file" whatever the cause.
            if out_of_file_descriptors():
                raise too_many_open_files(f"cannot open the history of {path} in {file}") from exc
            raise StorageError(f"cannot open the history of {path} in {file}: {exc}") from exc
        if found is None or found[0] != FORMAT:
            conn.close()
            worker.call(close_state, str(file))
            raise StorageError(
                f"{file} has server format {found[0] if found else None!r}; "
                f"this server reads {FORMAT!r}"
            )
        self._conn = conn

    # ------------------------------------------------------------------ history

    def load(self) -> LoadedHistory:
        with self._lock:
            try:
                rows = self._conn.execute(
                    f"SELECT {_HISTORY_COLUMNS} FROM _server_history ORDER BY server_version"
                ).fetchall()
                clients = self._conn.execute(
                    "SELECT ident, progress, user, user_id, salt, floor_client_version "
                    "FROM _server_clients"
                ).fetchall()
                base = _stored_base(self._conn)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read the history of {self.path}: {exc}") from exc
        try:
            entries = [_entry_from_row(row) for row in rows]
        except SyncError as exc:
            raise StorageError(f"the stored history of {self.path} is damaged: {exc}") from exc
        max_ident = max(
            [row[0] for row in clients] + [e.entry.origin_file_ident for e in entries] + [0]
        )
        return LoadedHistory(
            entries,
            max_ident,
            {row[0]: row[1] for row in clients if row[1]},
            {
                ident: ClientIdent(ident, user, user_id, salt)
                for ident, _, user, user_id, salt, _ in clients
            },
            base,
            {row[0]: row[5] for row in clients if row[5]},
        )

    def append(self, write: RealmWrite) -> None:
        if not write:
            return
        now_ms = int(time.time() * 1000)
        rows = [
            (
                s.entry.server_version,
                s.entry.origin_file_ident,
                s.entry.client_version,
                s.entry.timestamp_ms,
                s.entry.integrated_at_ms,
                s.user,
                s.encoded if s.encoded is not None else encode_changeset(s.entry.changeset),
            )
            for s in write.entries
        ]
        idents = [(i.ident, i.user, now_ms, i.user_id, i.salt) for i in write.new_idents]
        progress = [(ident, "", now_ms, v) for ident, v in write.progress.items()]
        with self._write_lock.held(), self._lock:
            self._check_open()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if rows:
                        (latest,) = conn.execute(
                            "SELECT coalesce(max(server_version), 0) FROM _server_history"
                        ).fetchone()
                        check_next_version(self.path, int(latest), rows[0][0])
                    _insert_many(conn, f"INSERT INTO _server_history ({_HISTORY_COLUMNS})", rows)
                    # An ident adopted after an upgrade gets its owner and salt.
                    _insert_many(
                        conn,
                        "INSERT INTO _server_clients (ident, user, created_ms, user_id, salt)",
                        idents,
                        " ON CONFLICT (ident) DO UPDATE SET user = excluded.user, "
                        "user_id = excluded.user_id, salt = excluded.salt",
                    )
                    _insert_many(
                        conn,
                        "INSERT INTO _server_clients (ident, user, created_ms, progress)",
                        progress,
                        " ON CONFLICT (ident) DO UPDATE SET "
                        "progress = max(progress, excluded.progress)",
                    )
                    timeline.mark("server.appended")  # what follows is the commit's fsync
                    conn.execute("COMMIT")  # synchronous=FULL: on disk after this
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"cannot store changesets of {self.path}: {exc}") from exc

    def read_history(self, since: int, limit: int) -> list[StoredEntry]:
        with self._lock:
            self._check_open()
            try:
                rows = self._conn.execute(
                    f"SELECT {_HISTORY_COLUMNS} FROM _server_history "
                    "WHERE server_version > ? ORDER BY server_version LIMIT ?",
                    (since, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read the history of {self.path}: {exc}") from exc
        try:
            return [_entry_from_row(row) for row in rows]
        except SyncError as exc:
            raise StorageError(f"the stored history of {self.path} is damaged: {exc}") from exc

    def history_size(self) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            try:
                rows, size = self._conn.execute(
                    "SELECT count(*), coalesce(sum(length(changeset)), 0) FROM _server_history"
                ).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read the history of {self.path}: {exc}") from exc
        return int(rows), int(size)

    def compact(self, compaction: Compaction) -> CompactionFigures:
        snapshot = snapshot_rows(compaction)
        floors = list(compaction.client_floors.items())
        now_ms = int(time.time() * 1000)
        with self._write_lock.held(), self._lock:
            self._check_open()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    before, bytes_before, latest = conn.execute(
                        "SELECT count(*), coalesce(sum(length(changeset)), 0), "
                        "coalesce(max(server_version), 0) FROM _server_history"
                    ).fetchone()
                    check_compaction(self.path, _stored_base(conn), int(latest), compaction)
                    conn.execute(
                        "DELETE FROM _server_history WHERE server_version <= ?",
                        (compaction.base_version,),
                    )
                    _insert_many(
                        conn, f"INSERT INTO _server_history ({_HISTORY_COLUMNS})", snapshot
                    )
                    conn.execute(
                        "INSERT INTO _server_meta VALUES ('history_base', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (compaction.base_version,),
                    )
                    _insert_many(
                        conn,
                        "INSERT INTO _server_clients "
                        "(ident, user, created_ms, floor_client_version)",
                        [(ident, "", now_ms, floor) for ident, floor in floors],
                        " ON CONFLICT (ident) DO UPDATE SET floor_client_version = "
                        "max(floor_client_version, excluded.floor_client_version)",
                    )
                    after, bytes_after = conn.execute(
                        "SELECT count(*), coalesce(sum(length(changeset)), 0) "
                        "FROM _server_history"
                    ).fetchone()
                    conn.execute("COMMIT")  # synchronous=FULL: on disk after this
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"cannot compact the history of {self.path}: {exc}") from exc
        return CompactionFigures(int(before), int(after), int(bytes_before), int(bytes_after))

    # ------------------------------------------------------------------ state

    def update_state(self, max_changesets: int = 128) -> RealmStats:
        self._check_open()
        return self._worker.call(update_state, str(self._file), self.path, max_changesets)

    def stats(self) -> RealmStats:
        self._check_open()
        return self._worker.call(state_stats, str(self._file), self.path)

    # ------------------------------------------------------------------ lifetime

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the storage of {self.path} is closed")

    def state_file(self) -> Path:  # hook for the REST API (base.py)
        return self._file

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
        self._write_lock.close()
        self._worker.call(close_state, str(self._file))
