"""One realm in one SQLite file: a ``studio.core`` realm file (the realm's
current state, readable with any studio tool) that also holds the server's
history tables.

Layout (besides the core's own tables, docs/storage-layout.md)::

    _server_meta(key TEXT PRIMARY KEY, value)            format, realm path
    _server_history(server_version INTEGER PRIMARY KEY,   one row per version
        origin_file_ident, client_version, timestamp_ms,
        integrated_at_ms, user, changeset BLOB)           studio.sync.changeset wire bytes
    _server_clients(ident INTEGER PRIMARY KEY, user,      client file idents handed out
        created_ms, progress)

The history is the truth and is written with ``synchronous=FULL`` on its own
connection: an append is on disk when :meth:`append` returns. The state is
derived: :meth:`update_state` applies history rows to it through the core
(``studio.core.synced.apply_remote``) and records how far it got in the same
transaction (the ``server_version`` sync value), so after a crash it simply
continues. The core's ``Realm`` object is bound to the thread that opened it,
so every state operation runs on one dedicated thread (``state_thread``).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

from studio.core import Realm, RealmError
from studio.core.instructions import Changeset, Instruction
from studio.core.synced import apply_remote, get_sync_value, set_sync_values
from studio.server.storage.base import (
    LoadedHistory,
    RealmStats,
    RealmStorage,
    RealmWrite,
    StoredEntry,
)
from studio.server.storage.errors import StorageError
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import SyncError
from studio.sync.history import HistoryEntry

FORMAT: Final = "studio-server-1"
_STATE_CURSOR: Final = "server_version"

_T = TypeVar("_T")

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
        progress INTEGER NOT NULL DEFAULT 0)""",
)


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


def file_size(file: Path) -> tuple[int, float | None]:
    """Bytes of a realm file with its WAL, and when either last changed."""
    size, modified = 0, None
    for suffix in ("", "-wal"):
        try:
            st = Path(str(file) + suffix).stat()
        except FileNotFoundError:
            continue
        size += st.st_size
        modified = st.st_mtime if modified is None else max(modified, st.st_mtime)
    return size, modified


class SqliteRealmStorage(RealmStorage):
    def __init__(self, path: str, file: Path, state_thread: ThreadPoolExecutor) -> None:
        self.path = path
        self._file = file
        self._state_thread = state_thread
        self._lock = threading.Lock()
        """Guards the history connection."""
        self._write_lock = threading.Lock()
        """One writer at a time on the file (history append or state update),
        taken before ``_lock``. Without it, SQLite's busy handler would make an
        append wait behind a state transaction in sleeps of up to 100 ms;
        with it, the append starts the moment the (small) state batch ends."""
        self._realm: Realm | None = None
        self._state_error: str | None = None
        self._last_stats: RealmStats | None = None
        self._closed = False
        # The core creates the file (its layout first: it refuses to adopt an
        # SQLite file that has tables but no realm metadata).
        self._on_state_thread(self._open_state)
        try:
            conn = sqlite3.connect(
                str(file), isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for ddl in _DDL:
                conn.execute(ddl)
            conn.execute(
                "INSERT OR IGNORE INTO _server_meta VALUES ('format', ?), ('path', ?)",
                (FORMAT, path),
            )
            found = conn.execute("SELECT value FROM _server_meta WHERE key='format'").fetchone()
        except sqlite3.Error as exc:
            self._on_state_thread(self._close_state)
            raise StorageError(f"cannot open the history of {path} in {file}: {exc}") from exc
        if found is None or found[0] != FORMAT:
            conn.close()
            self._on_state_thread(self._close_state)
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
                    "SELECT ident, progress FROM _server_clients"
                ).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read the history of {self.path}: {exc}") from exc
        try:
            entries = [_entry_from_row(row) for row in rows]
        except SyncError as exc:
            raise StorageError(f"the stored history of {self.path} is damaged: {exc}") from exc
        max_ident = max(
            [ident for ident, _ in clients] + [e.entry.origin_file_ident for e in entries] + [0]
        )
        return LoadedHistory(entries, max_ident, {ident: p for ident, p in clients if p})

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
        idents = [(ident, user, now_ms) for ident, user in write.new_idents]
        progress = [(ident, "", now_ms, v) for ident, v in write.progress.items()]
        with self._write_lock, self._lock:
            self._check_open()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    _insert_many(conn, f"INSERT INTO _server_history ({_HISTORY_COLUMNS})", rows)
                    _insert_many(conn, "INSERT OR IGNORE INTO _server_clients "
                                 "(ident, user, created_ms)", idents)  # fmt: skip
                    _insert_many(
                        conn,
                        "INSERT INTO _server_clients (ident, user, created_ms, progress)",
                        progress,
                        " ON CONFLICT (ident) DO UPDATE SET "
                        "progress = max(progress, excluded.progress)",
                    )
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

    def _latest_version(self) -> int:
        with self._lock:
            self._check_open()
            row = self._conn.execute("SELECT max(server_version) FROM _server_history").fetchone()
        return int(row[0] or 0)

    # ------------------------------------------------------------------ state

    def update_state(
        self, max_changesets: int = 128, known: Sequence[tuple[int, Changeset]] = ()
    ) -> RealmStats:
        return self._on_state_thread(lambda: self._update_state(max_changesets, known))

    def stats(self) -> RealmStats:
        return self._on_state_thread(self._stats)

    def _update_state(
        self, max_changesets: int, known: Sequence[tuple[int, Changeset]]
    ) -> RealmStats:
        realm = self._state_realm()
        done = int(get_sync_value(realm, _STATE_CURSOR, "0") or 0)
        if known and known[0][0] == done + 1:
            # What the caller holds in memory saves reading and decoding it again.
            entries = list(known[:max_changesets])
        else:
            entries = [
                (s.entry.server_version, s.entry.changeset)
                for s in self.read_history(done, max_changesets)
            ]
        if entries:
            instructions: list[Instruction] = []
            for _, changeset in entries:
                instructions.extend(changeset.instructions)
            last = entries[-1][0]
            try:
                with self._write_lock:
                    apply_remote(realm, instructions, cursors={_STATE_CURSOR: last})
            except (RealmError, SyncError, ValueError, TypeError, KeyError, IndexError):
                # One changeset the core cannot apply must not stop the state for
                # good: apply them one by one and step over the culprit.
                self._apply_one_by_one(realm, [c for _, c in entries], [v for v, _ in entries])
        previous = self._last_stats
        if previous is not None and entries:
            state_version = int(get_sync_value(realm, _STATE_CURSOR, "0") or 0)
            latest = self._latest_version()
            if state_version < latest:
                # Still behind, and called again at once: counting the objects
                # of every class after each batch would cost as much as the
                # batch. The count is refreshed once the state caught up.
                return dataclasses.replace(
                    previous,
                    server_version=latest,
                    state_version=state_version,
                    state_error=self._state_error,
                )
        return self._stats()

    def _apply_one_by_one(
        self, realm: Realm, changesets: list[Changeset], versions: list[int]
    ) -> None:
        # The cursor moves past a changeset that cannot be applied with the next one
        # applied (in its transaction), or once at the end: a crash in between only
        # means trying the culprits again, which changes nothing.
        skipped: int | None = None
        for changeset, version in zip(changesets, versions, strict=True):
            try:
                with self._write_lock:
                    apply_remote(realm, changeset.instructions, cursors={_STATE_CURSOR: version})
                skipped = None
            except (RealmError, SyncError, ValueError, TypeError, KeyError, IndexError) as exc:
                self._state_error = f"server version {version} could not be applied: {exc}"
                skipped = version
        if skipped is not None:
            with self._write_lock:
                set_sync_values(realm, {_STATE_CURSOR: skipped})

    def _stats(self) -> RealmStats:
        realm = self._state_realm()
        realm.refresh()
        objects = sum(len(realm.objects(c.name)) for c in realm.schema if not c.embedded)
        size, modified = file_size(self._file)
        stats = self._last_stats = RealmStats(
            size_bytes=size,
            objects=objects,
            server_version=self._latest_version(),
            state_version=int(get_sync_value(realm, _STATE_CURSOR, "0") or 0),
            state_error=self._state_error,
            modified=modified,
        )
        return stats

    def _open_state(self) -> None:
        try:
            self._realm = Realm.open(self._file)
        except RealmError as exc:
            raise StorageError(
                f"cannot open the state of {self.path} ({self._file}): {exc}"
            ) from exc

    def _state_realm(self) -> Realm:
        self._check_open()
        if self._realm is None:
            self._open_state()
        assert self._realm is not None
        return self._realm

    def _close_state(self) -> None:
        if self._realm is not None:
            self._realm.close()
            self._realm = None

    def _on_state_thread(self, fn: Callable[[], _T]) -> _T:
        return self._state_thread.submit(fn).result()

    # ------------------------------------------------------------------ lifetime

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the storage of {self.path} is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
        self._on_state_thread(self._close_state)
