"""The embedded default storage: SQLite files under the data directory.

::

    DIR/server.sqlite          users, realm registry, grants, token key
    DIR/realms/NNNNNN-<slug>.realm   one file per realm (sqlite_realm.py)

Both kinds of file run in WAL mode with ``synchronous=FULL``.

Accounts have an immutable random ``user_id``; realm ownership
(``realms.owner_id``) and grants (``grants``) refer to it, so that a name
deleted and created again is a new account. A data directory from before
account ids (``meta.schema`` missing) is upgraded when opened: every user
gets an id, realms get the id of the user their ``owner`` names, and the
old ``permissions(path, username, level)`` rows move to ``grants``.

Directories are made 0700 and files 0600 (SQLite gives -wal and -shm files the
mode of their database): server.sqlite holds the token signing key
(secret_files.py).
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
from studio.server.secret_files import PRIVATE_DIR_MODE, create_private_file, make_private
from studio.server.storage.base import (
    RealmRecord,
    RealmStats,
    RealmStorage,
    ServerStorage,
    UserRecord,
    new_user_id,
    user_update_sql,
)
from studio.server.storage.errors import (
    AlreadyExists,
    Missing,
    QuotaExceeded,
    StorageError,
    out_of_file_descriptors,
    too_many_open_files,
)
from studio.server.storage.sqlite_realm import SqliteRealmStorage
from studio.server.storage.state_worker import LOCK_SUFFIX, StateWorker, file_stats

FORMAT: Final = "studio-server-1"
SCHEMA: Final = 2
"""1: names everywhere; 2: account ids (user_id, realms.owner_id, grants)."""
_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        suspended INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        token_generation INTEGER NOT NULL DEFAULT 0,
        user_id TEXT)""",
    """CREATE TABLE IF NOT EXISTS realms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        owner TEXT,
        created REAL NOT NULL,
        file TEXT NOT NULL,
        owner_id TEXT)""",
    """CREATE TABLE IF NOT EXISTS grants (
        path TEXT NOT NULL,
        user_id TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (path, user_id))""",
    "CREATE INDEX IF NOT EXISTS grants_user ON grants (user_id)",
    # Grants a realm's own admin made to a name that has no account (they must
    # not learn whether it has one): they become grants of the account that is
    # next created with that name.
    """CREATE TABLE IF NOT EXISTS name_grants (
        path TEXT NOT NULL,
        username TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (path, username))""",
    # Client file idents issued per account (quota, limits.py); a count, not
    # a list: each realm file records its own idents.
    """CREATE TABLE IF NOT EXISTS ident_quota (
        user_id TEXT PRIMARY KEY,
        issued INTEGER NOT NULL)""",
)
_INDEXES: Final = (  # after the upgrade: an older database lacks these columns at first
    "CREATE UNIQUE INDEX IF NOT EXISTS users_id ON users (user_id)",
    "CREATE INDEX IF NOT EXISTS realms_owner ON realms (owner_id)",
)
_USER_COLUMNS: Final = (
    "username, password_hash, is_admin, suspended, created, token_generation, user_id"
)
_REALM_SELECT: Final = (
    "SELECT realms.path, users.username, realms.created, realms.owner_id "
    "FROM realms LEFT JOIN users ON users.user_id = realms.owner_id"
)


def _user(row: Any) -> UserRecord:
    return UserRecord(
        row[0], row[1], bool(row[2]), bool(row[3]), float(row[4]), int(row[5]), str(row[6])
    )


def _realm(row: Any) -> RealmRecord:
    return RealmRecord(row[0], row[1], row[2], row[3])


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring a schema-1 database (names only) to account ids, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if found is not None and int(found[0]) >= SCHEMA:
            conn.execute("COMMIT")
            return
        if "user_id" not in _columns(conn, "users"):
            conn.execute("ALTER TABLE users ADD COLUMN user_id TEXT")
        if "owner_id" not in _columns(conn, "realms"):
            conn.execute("ALTER TABLE realms ADD COLUMN owner_id TEXT")
        for (name,) in conn.execute("SELECT username FROM users WHERE user_id IS NULL").fetchall():
            conn.execute("UPDATE users SET user_id = ? WHERE username = ?", (new_user_id(), name))
        conn.execute(
            "UPDATE realms SET owner_id = "
            "(SELECT user_id FROM users WHERE users.username = realms.owner) "
            "WHERE owner_id IS NULL"
        )
        old = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='permissions'"
        ).fetchone()
        if old is not None:
            # Grants of users that no longer exist are dropped here: they
            # belonged to deleted accounts.
            conn.execute(
                "INSERT OR REPLACE INTO grants (path, user_id, level) "
                "SELECT p.path, u.user_id, p.level FROM permissions p "
                "JOIN users u ON u.username = p.username"
            )
            conn.execute("DROP TABLE permissions")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
            data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            self._realms_dir.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            database = data_dir / "server.sqlite"
            create_private_file(database)
            for suffix in ("-wal", "-shm"):
                make_private(Path(str(database) + suffix))
            conn = sqlite3.connect(
                str(database),
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
            if found[0] == FORMAT:
                _upgrade(conn)
                for ddl in _INDEXES:
                    conn.execute(ddl)
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

    def get_user_by_id(self, user_id: str) -> UserRecord | None:
        rows = self._query(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
        rows = self._query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def create_user(self, user: UserRecord) -> None:
        try:
            with self._tx() as conn:
                conn.execute(
                    f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.username,
                        user.password_hash,
                        int(user.is_admin),
                        int(user.suspended),
                        user.created,
                        user.token_generation,
                        user.user_id,
                    ),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO grants (path, user_id, level) "
                    "SELECT path, ?, level FROM name_grants WHERE username = ?",
                    (user.user_id, user.username),
                )
                conn.execute("DELETE FROM name_grants WHERE username = ?", (user.username,))
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
        sets, args = user_update_sql(
            "?", password_hash=password_hash, is_admin=is_admin, suspended=suspended
        )
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
            row = conn.execute("SELECT user_id FROM users WHERE username = ?", (username,))
            found = row.fetchone()
            if found is None:
                raise Missing(f"there is no user {username!r}")
            conn.execute("DELETE FROM users WHERE user_id = ?", (found[0],))
            conn.execute("DELETE FROM grants WHERE user_id = ?", (found[0],))

    # ------------------------------------------------------------------ realms

    def get_realm(self, path: str) -> RealmRecord | None:
        rows = self._query(f"{_REALM_SELECT} WHERE realms.path = ?", (path,))
        return _realm(rows[0]) if rows else None

    def list_realms(self) -> list[RealmRecord]:
        rows = self._query(f"{_REALM_SELECT} ORDER BY realms.path")
        return [_realm(r) for r in rows]

    def create_realm(
        self, path: str, owner: str | None, *, owner_limit: int | None = None
    ) -> RealmRecord:
        created = time.time()
        owner_id: str | None = None
        try:
            with self._tx() as conn:
                if owner is not None:
                    found = conn.execute(
                        "SELECT user_id FROM users WHERE username = ?", (owner,)
                    ).fetchone()
                    owner_id = None if found is None else str(found[0])
                if owner_id is not None and owner_limit is not None:
                    (owned,) = conn.execute(
                        "SELECT count(*) FROM realms WHERE owner_id = ?", (owner_id,)
                    ).fetchone()
                    if owned >= owner_limit:
                        raise QuotaExceeded(
                            f"{owner} owns {owned} realms, the most allowed "
                            f"(--max-realms-per-user {owner_limit}); delete one "
                            "or ask an admin to create it"
                        )
                cur = conn.execute(
                    "INSERT INTO realms (path, owner, created, file, owner_id) "
                    "VALUES (?, ?, ?, '', ?)",
                    (path, owner, created, owner_id),
                )
                realm_id = int(cur.lastrowid or 0)
                conn.execute(
                    "UPDATE realms SET file = ? WHERE id = ?",
                    (file_stem(path, realm_id) + ".realm", realm_id),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"realm {path} already exists") from None
        return RealmRecord(path, owner if owner_id else None, created, owner_id)

    def reserve_client_ident(self, user_id: str, limit: int) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT issued FROM ident_quota WHERE user_id = ?", (user_id,)
            ).fetchone()
            issued = int(row[0]) if row else 0
            if issued >= limit:
                return False
            conn.execute(
                "INSERT INTO ident_quota (user_id, issued) VALUES (?, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET issued = issued + 1",
                (user_id,),
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
            conn.execute("DELETE FROM grants WHERE path = ?", (path,))
            conn.execute("DELETE FROM name_grants WHERE path = ?", (path,))
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
        file = self._realm_file(path)
        try:
            create_private_file(file)
            for suffix in ("-wal", "-shm"):
                make_private(Path(str(file) + suffix))
        except OSError as exc:
            if out_of_file_descriptors(exc):
                raise too_many_open_files(f"cannot create {file} for realm {path}") from exc
            raise StorageError(f"cannot create {file} for realm {path}: {exc}") from exc
        return SqliteRealmStorage(path, file, self._state)

    def realm_stats(self, path: str) -> RealmStats:
        file = self._realm_file(path)
        if not file.exists():
            return RealmStats(0, 0, 0, 0)
        return self._state.call(file_stats, str(file))

    # ------------------------------------------------------------------ permissions

    def get_permission(self, path: str, user_id: str) -> str | None:
        rows = self._query(
            "SELECT level FROM grants WHERE path = ? AND user_id = ?", (path, user_id)
        )
        return str(rows[0][0]) if rows else None

    def list_permissions(self, path: str) -> list[tuple[str, str]]:
        rows = self._query(
            "SELECT u.username, g.level FROM grants g JOIN users u ON u.user_id = g.user_id "
            "WHERE g.path = ? UNION ALL SELECT username, level FROM name_grants "
            "WHERE path = ? ORDER BY 1",
            (path, path),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def user_permissions(self, username: str) -> list[tuple[str, str]]:
        rows = self._query(
            "SELECT g.path, g.level FROM grants g JOIN users u ON u.user_id = g.user_id "
            "WHERE u.username = ? ORDER BY g.path",
            (username,),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def set_permission(self, path: str, username: str, level: str) -> None:
        with self._tx() as conn:
            found = conn.execute(
                "SELECT user_id FROM users WHERE username = ?", (username,)
            ).fetchone()
            if found is None:
                conn.execute(
                    "INSERT OR REPLACE INTO name_grants (path, username, level) "
                    "VALUES (?, ?, ?)",
                    (path, username, level),
                )
                return
            conn.execute(
                "INSERT OR REPLACE INTO grants (path, user_id, level) VALUES (?, ?, ?)",
                (path, found[0], level),
            )

    def revoke_permission(self, path: str, username: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM grants WHERE path = ? AND user_id = "
                "(SELECT user_id FROM users WHERE username = ?)",
                (path, username),
            )
            pending = conn.execute(
                "DELETE FROM name_grants WHERE path = ? AND username = ?", (path, username)
            )
            return cur.rowcount + pending.rowcount > 0

    # ------------------------------------------------------------------ secrets

    def token_key(self) -> bytes:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('token_key', ?)", (secrets.token_hex(32),)
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'token_key'").fetchone()
        return bytes.fromhex(str(row[0]))

    def start_workers(self) -> None:
        self._state.start()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self._state.shutdown()
