"""The embedded default storage: SQLite files under the data directory.

::

    DIR/server.sqlite          users, realm registry, permissions, token key
    DIR/realms/NNNNNN-<slug>.realm   one file per realm (sqlite_realm.py)

Both kinds of file run in WAL mode with ``synchronous=FULL``.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from studio.server.limits import DEFAULT_OPEN_REALM_FILES
from studio.server.paths import file_stem
from studio.server.storage.base import (
    RealmRecord,
    RealmStats,
    RealmStorage,
    ServerStorage,
    UserRecord,
)
from studio.server.storage.errors import AlreadyExists, Missing, QuotaExceeded, StorageError
from studio.server.storage.sqlite_realm import SqliteRealmStorage
from studio.server.storage.state_worker import LOCK_SUFFIX, StateWorker, file_stats

FORMAT: Final = "studio-server-1"
_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        suspended INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        token_generation INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS realms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        owner TEXT,
        created REAL NOT NULL,
        file TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS permissions (
        path TEXT NOT NULL,
        username TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (path, username))""",
    "CREATE INDEX IF NOT EXISTS permissions_user ON permissions (username)",
    "CREATE INDEX IF NOT EXISTS realms_owner ON realms (owner)",
    # Client file idents issued per user (quota, limits.py); a count, not a
    # list: each realm file records its own idents.
    """CREATE TABLE IF NOT EXISTS ident_quota (
        username TEXT PRIMARY KEY,
        issued INTEGER NOT NULL)""",
)
_USER_COLUMNS: Final = "username, password_hash, is_admin, suspended, created, token_generation"


def _user(row: Any) -> UserRecord:
    return UserRecord(row[0], row[1], bool(row[2]), bool(row[3]), float(row[4]), int(row[5]))


class SqliteServerStorage(ServerStorage):
    def __init__(
        self,
        data_dir: Path,
        *,
        state_in_process: bool = False,
        max_open_realm_files: int = DEFAULT_OPEN_REALM_FILES,
    ) -> None:
        """``state_in_process``: keep realm states up to date on a thread of
        this process rather than in a worker process. ``max_open_realm_files``:
        realm files the state worker keeps open."""
        self._dir = data_dir
        self._realms_dir = data_dir / "realms"
        try:
            self._realms_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(data_dir / "server.sqlite"),
                isolation_level=None,
                check_same_thread=False,
                timeout=60,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            for ddl in _DDL:
                conn.execute(ddl)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            found = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the data directory {data_dir}: {exc}") from exc
        if found[0] != FORMAT:
            raise StorageError(
                f"{data_dir} holds server data of format {found[0]!r}; this server reads {FORMAT!r}"
            )
        self._conn = conn
        self._lock = threading.Lock()
        # Realm states are kept up to date in a worker process (background
        # work, off the event loop's interpreter lock; see state_worker.py).
        self._state = StateWorker(in_process=state_in_process, max_open=max_open_realm_files)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (committed durably) under the lock."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise StorageError(f"cannot write {self._dir / 'server.sqlite'}: {exc}") from exc

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read {self._dir / 'server.sqlite'}: {exc}") from exc

    # ------------------------------------------------------------------ users

    def count_users(self) -> int:
        return int(self._query("SELECT count(*) FROM users")[0][0])

    def get_user(self, username: str) -> UserRecord | None:
        rows = self._query(f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", (username,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
        rows = self._query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def create_user(self, user: UserRecord) -> None:
        try:
            with self._tx() as conn:
                conn.execute(
                    f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        user.username,
                        user.password_hash,
                        int(user.is_admin),
                        int(user.suspended),
                        user.created,
                        user.token_generation,
                    ),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"user {user.username!r} already exists") from None

    def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        is_admin: bool | None = None,
        suspended: bool | None = None,
    ) -> UserRecord:
        sets: list[str] = []
        args: list[Any] = []
        if password_hash is not None:
            sets += ["password_hash = ?", "token_generation = token_generation + 1"]
            args.append(password_hash)
        if is_admin is not None:
            sets.append("is_admin = ?")
            args.append(int(is_admin))
        if suspended is not None:
            sets.append("suspended = ?")
            args.append(int(suspended))
        with self._tx() as conn:
            if sets:
                conn.execute(
                    f"UPDATE users SET {', '.join(sets)} WHERE username = ?", (*args, username)
                )
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", (username,)
            ).fetchone()
            if row is None:
                raise Missing(f"there is no user {username!r}")
        return _user(row)

    def delete_user(self, username: str) -> None:
        with self._tx() as conn:
            if conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 0:
                raise Missing(f"there is no user {username!r}")
            conn.execute("DELETE FROM permissions WHERE username = ?", (username,))

    # ------------------------------------------------------------------ realms

    def get_realm(self, path: str) -> RealmRecord | None:
        rows = self._query("SELECT path, owner, created FROM realms WHERE path = ?", (path,))
        return RealmRecord(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def list_realms(self) -> list[RealmRecord]:
        rows = self._query("SELECT path, owner, created FROM realms ORDER BY path")
        return [RealmRecord(r[0], r[1], r[2]) for r in rows]

    def create_realm(
        self, path: str, owner: str | None, *, owner_limit: int | None = None
    ) -> RealmRecord:
        created = time.time()
        try:
            with self._tx() as conn:
                if owner is not None and owner_limit is not None:
                    (owned,) = conn.execute(
                        "SELECT count(*) FROM realms WHERE owner = ?", (owner,)
                    ).fetchone()
                    if owned >= owner_limit:
                        raise QuotaExceeded(
                            f"{owner} owns {owned} realms, the most allowed "
                            f"(--max-realms-per-user {owner_limit}); delete one "
                            "or ask an admin to create it"
                        )
                cur = conn.execute(
                    "INSERT INTO realms (path, owner, created, file) VALUES (?, ?, ?, '')",
                    (path, owner, created),
                )
                realm_id = int(cur.lastrowid or 0)
                conn.execute(
                    "UPDATE realms SET file = ? WHERE id = ?",
                    (file_stem(path, realm_id) + ".realm", realm_id),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"realm {path} already exists") from None
        return RealmRecord(path, owner, created)

    def reserve_client_ident(self, username: str, limit: int) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT issued FROM ident_quota WHERE username = ?", (username,)
            ).fetchone()
            issued = int(row[0]) if row else 0
            if issued >= limit:
                return False
            conn.execute(
                "INSERT INTO ident_quota (username, issued) VALUES (?, 1) "
                "ON CONFLICT (username) DO UPDATE SET issued = issued + 1",
                (username,),
            )
        return True

    def _realm_file(self, path: str) -> Path:
        rows = self._query("SELECT file FROM realms WHERE path = ?", (path,))
        if not rows:
            raise Missing(f"there is no realm {path}")
        return self._realms_dir / str(rows[0][0])

    def delete_realm(self, path: str) -> None:
        file = self._realm_file(path)
        with self._tx() as conn:
            conn.execute("DELETE FROM realms WHERE path = ?", (path,))
            conn.execute("DELETE FROM permissions WHERE path = ?", (path,))
        for suffix in ("", "-wal", "-shm", LOCK_SUFFIX):
            try:
                os.unlink(str(file) + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageError(
                    f"realm {path} is deleted but {file}{suffix} is left: {exc}"
                ) from exc

    def open_realm(self, path: str) -> RealmStorage:
        return SqliteRealmStorage(path, self._realm_file(path), self._state)

    def realm_stats(self, path: str) -> RealmStats:
        file = self._realm_file(path)
        if not file.exists():
            return RealmStats(0, 0, 0, 0)
        return self._state.call(file_stats, str(file))

    # ------------------------------------------------------------------ permissions

    def get_permission(self, path: str, username: str) -> str | None:
        rows = self._query(
            "SELECT level FROM permissions WHERE path = ? AND username = ?", (path, username)
        )
        return str(rows[0][0]) if rows else None

    def list_permissions(self, path: str) -> list[tuple[str, str]]:
        rows = self._query(
            "SELECT username, level FROM permissions WHERE path = ? ORDER BY username", (path,)
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def user_permissions(self, username: str) -> list[tuple[str, str]]:
        rows = self._query(
            "SELECT path, level FROM permissions WHERE username = ? ORDER BY path", (username,)
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def set_permission(self, path: str, username: str, level: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO permissions (path, username, level) VALUES (?, ?, ?)",
                (path, username, level),
            )

    def revoke_permission(self, path: str, username: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM permissions WHERE path = ? AND username = ?", (path, username)
            )
            return cur.rowcount > 0

    # ------------------------------------------------------------------ secrets

    def token_key(self) -> bytes:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('token_key', ?)", (secrets.token_hex(32),)
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'token_key'").fetchone()
        return bytes.fromhex(str(row[0]))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self._state.shutdown()
