"""The object server's data in PostgreSQL (``studio server --store
postgresql://...``): users, token signing key, realms, grants, quotas, each
realm's history and client idents. Several server processes may share the
database; a process keeps only caches (realm states, in local files under
``--data``, see cached_state.py).

Tables are named ``studio_*`` (postgres_schema.py creates and migrates them).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from studio.server.limits import DEFAULT_OPEN_REALM_FILES
from studio.server.paths import file_stem
from studio.server.secret_files import PRIVATE_DIR_MODE
from studio.server.storage.base import (
    RealmRecord,
    RealmStats,
    RealmStorage,
    ServerStorage,
    UserRecord,
    user_update_sql,
)
from studio.server.storage.cached_state import (
    CachedState,
    closed_realm_stats,
    remove_cache_file,
)
from studio.server.storage.errors import AlreadyExists, Missing, QuotaExceeded, StorageError
from studio.server.storage.postgres_realm import PostgresRealmStorage
from studio.server.storage.postgres_schema import QUOTA_LOCK, ConnectionPool, migrate
from studio.server.storage.state_worker import StateWorker

_USER_COLUMNS: Final = (
    "username, password_hash, is_admin, suspended, created, token_generation, user_id"
)
_REALM_SELECT: Final = (
    "SELECT r.path, u.username, r.created, r.owner_id "
    "FROM studio_realms r LEFT JOIN studio_users u ON u.user_id = r.owner_id"
)


def _user(row: Any) -> UserRecord:
    return UserRecord(
        row[0], row[1], bool(row[2]), bool(row[3]), float(row[4]), int(row[5]), str(row[6])
    )


def _realm(row: Any) -> RealmRecord:
    return RealmRecord(row[0], row[1], float(row[2]), row[3])


class PostgresServerStorage(ServerStorage):
    def __init__(
        self,
        dsn: str,
        cache_dir: Path | None = None,
        *,
        state_in_process: bool = False,
        max_open_realm_files: int = DEFAULT_OPEN_REALM_FILES,
        pool_size: int = 8,
    ) -> None:
        """``dsn``: a libpq connection string or URI (multi-host ones too).
        ``cache_dir``: where realm state caches go (a temporary directory,
        removed at close, when None)."""
        self._pool = ConnectionPool(dsn, pool_size)
        try:
            conn = self._pool.connect()
            try:
                migrate(conn)
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO studio_meta VALUES ('store_id', %s) ON CONFLICT DO NOTHING",
                        (secrets.token_hex(8),),
                    )
                    row = conn.execute(
                        "SELECT value FROM studio_meta WHERE key = 'store_id'"
                    ).fetchone()
            finally:
                conn.close()
        except StorageError:
            raise
        except Exception as exc:  # the driver's errors
            raise StorageError(f"cannot prepare the PostgreSQL store: {exc}") from exc
        assert row is not None
        self._temporary = cache_dir is None
        base = Path(tempfile.mkdtemp(prefix="studio-pg-cache-")) if cache_dir is None else cache_dir
        self._base = base
        # Caches of one database apart from those of another (the cache file
        # names hold the realm id, which another database reuses).
        self._cache_dir = base / "state-cache" / str(row[0])
        try:
            self._cache_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the state cache {self._cache_dir}: {exc}") from exc
        self._worker = StateWorker(in_process=state_in_process, max_open=max_open_realm_files)
        self.dsn = dsn
        self.node = secrets.token_hex(6)
        """This server process among those sharing the database."""

    # ------------------------------------------------------------------ users

    def count_users(self) -> int:
        with self._pool.transaction() as conn:
            row = conn.execute("SELECT count(*) FROM studio_users").fetchone()
        return int(row[0]) if row else 0

    def _one_user(self, where: str, value: str) -> UserRecord | None:
        with self._pool.transaction() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM studio_users WHERE {where} = %s", (value,)
            ).fetchone()
        return None if row is None else _user(row)

    def get_user(self, username: str) -> UserRecord | None:
        return self._one_user("username", username)

    def get_user_by_id(self, user_id: str) -> UserRecord | None:
        return self._one_user("user_id", user_id)

    def list_users(self) -> list[UserRecord]:
        with self._pool.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM studio_users ORDER BY username"
            ).fetchall()
        return [_user(r) for r in rows]

    def create_user(self, user: UserRecord) -> None:
        try:
            with self._pool.transaction() as conn:
                conn.execute(
                    f"INSERT INTO studio_users ({_USER_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        user.username,
                        user.password_hash,
                        user.is_admin,
                        user.suspended,
                        user.created,
                        user.token_generation,
                        user.user_id,
                    ),
                )
                conn.execute(
                    "INSERT INTO studio_grants (path, user_id, level) "
                    "SELECT path, %s, level FROM studio_name_grants WHERE username = %s "
                    "ON CONFLICT (path, user_id) DO UPDATE SET level = excluded.level",
                    (user.user_id, user.username),
                )
                conn.execute("DELETE FROM studio_name_grants WHERE username = %s", (user.username,))
        except AlreadyExists:
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
            "%s", password_hash=password_hash, is_admin=is_admin, suspended=suspended
        )
        with self._pool.transaction() as conn:
            if sets:
                conn.execute(
                    f"UPDATE studio_users SET {', '.join(sets)} WHERE username = %s",
                    (*args, username),
                )
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM studio_users WHERE username = %s", (username,)
            ).fetchone()
        if row is None:
            raise Missing(f"there is no user {username!r}")
        return _user(row)

    def delete_user(self, username: str) -> None:
        with self._pool.transaction() as conn:
            row = conn.execute(
                "DELETE FROM studio_users WHERE username = %s RETURNING user_id", (username,)
            ).fetchone()
            if row is None:
                raise Missing(f"there is no user {username!r}")
            conn.execute("DELETE FROM studio_grants WHERE user_id = %s", (row[0],))

    # ------------------------------------------------------------------ realms

    def get_realm(self, path: str) -> RealmRecord | None:
        with self._pool.transaction() as conn:
            row = conn.execute(f"{_REALM_SELECT} WHERE r.path = %s", (path,)).fetchone()
        return None if row is None else _realm(row)

    def list_realms(self) -> list[RealmRecord]:
        with self._pool.transaction() as conn:
            rows = conn.execute(f"{_REALM_SELECT} ORDER BY r.path").fetchall()
        return [_realm(r) for r in rows]

    def create_realm(
        self, path: str, owner: str | None, *, owner_limit: int | None = None
    ) -> RealmRecord:
        created = time.time()
        owner_id: str | None = None
        try:
            with self._pool.transaction() as conn:
                if owner is not None:
                    found = conn.execute(
                        "SELECT user_id FROM studio_users WHERE username = %s", (owner,)
                    ).fetchone()
                    owner_id = None if found is None else str(found[0])
                if owner_id is not None and owner_limit is not None:
                    # Two processes creating realms for one owner at once
                    # must not both pass the count.
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (QUOTA_LOCK, owner_id)
                    )
                    counted = conn.execute(
                        "SELECT count(*) FROM studio_realms WHERE owner_id = %s", (owner_id,)
                    ).fetchone()
                    owned = int(counted[0]) if counted else 0
                    if owned >= owner_limit:
                        raise QuotaExceeded(
                            f"{owner} owns {owned} realms, the most allowed "
                            f"(--max-realms-per-user {owner_limit}); delete one "
                            "or ask an admin to create it"
                        )
                conn.execute(
                    "INSERT INTO studio_realms (path, owner_id, created) VALUES (%s, %s, %s)",
                    (path, owner_id, created),
                )
        except AlreadyExists:
            raise AlreadyExists(f"realm {path} already exists") from None
        return RealmRecord(path, owner if owner_id else None, created, owner_id)

    def reserve_client_ident(self, user_id: str, limit: int) -> bool:
        if limit <= 0:
            return False
        with self._pool.transaction() as conn:
            row = conn.execute(
                "INSERT INTO studio_ident_quota (user_id, issued) VALUES (%s, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET issued = studio_ident_quota.issued + 1 "
                "WHERE studio_ident_quota.issued < %s RETURNING issued",
                (user_id, limit),
            ).fetchone()
        return row is not None

    def _realm_row(self, path: str) -> tuple[int, int, int]:
        """id, latest server version, history bytes"""
        with self._pool.transaction() as conn:
            row = conn.execute(
                "SELECT id, server_version, history_bytes FROM studio_realms WHERE path = %s",
                (path,),
            ).fetchone()
        if row is None:
            raise Missing(f"there is no realm {path}")
        return int(row[0]), int(row[1]), int(row[2])

    def _cache_file(self, path: str, realm_id: int) -> Path:
        return self._cache_dir / f"{file_stem(path, realm_id)}.realm"

    def delete_realm(self, path: str) -> None:
        with self._pool.transaction() as conn:
            row = conn.execute(
                "DELETE FROM studio_realms WHERE path = %s RETURNING id", (path,)
            ).fetchone()
            if row is None:
                raise Missing(f"there is no realm {path}")
            conn.execute("DELETE FROM studio_grants WHERE path = %s", (path,))
            conn.execute("DELETE FROM studio_name_grants WHERE path = %s", (path,))
        remove_cache_file(self._cache_file(path, int(row[0])))

    def open_realm(self, path: str) -> RealmStorage:
        realm_id, _, _ = self._realm_row(path)
        state = CachedState(path, self._cache_file(path, realm_id), self._worker)
        return PostgresRealmStorage(path, realm_id, self._pool, state, self.node)

    def realm_stats(self, path: str) -> RealmStats:
        realm_id, latest, size = self._realm_row(path)
        return closed_realm_stats(self._worker, self._cache_file(path, realm_id), latest, size)

    # ------------------------------------------------------------------ permissions

    def get_permission(self, path: str, user_id: str) -> str | None:
        with self._pool.transaction() as conn:
            row = conn.execute(
                "SELECT level FROM studio_grants WHERE path = %s AND user_id = %s",
                (path, user_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def list_permissions(self, path: str) -> list[tuple[str, str]]:
        with self._pool.transaction() as conn:
            rows = conn.execute(
                "SELECT u.username, g.level FROM studio_grants g "
                "JOIN studio_users u ON u.user_id = g.user_id WHERE g.path = %s "
                "UNION ALL SELECT username, level FROM studio_name_grants WHERE path = %s "
                "ORDER BY 1",
                (path, path),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def user_permissions(self, username: str) -> list[tuple[str, str]]:
        with self._pool.transaction() as conn:
            rows = conn.execute(
                "SELECT g.path, g.level FROM studio_grants g "
                "JOIN studio_users u ON u.user_id = g.user_id WHERE u.username = %s "
                "ORDER BY g.path",
                (username,),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def set_permission(self, path: str, username: str, level: str) -> None:
        with self._pool.transaction() as conn:
            found = conn.execute(
                "SELECT user_id FROM studio_users WHERE username = %s", (username,)
            ).fetchone()
            if found is None:
                conn.execute(
                    "INSERT INTO studio_name_grants (path, username, level) VALUES (%s, %s, %s) "
                    "ON CONFLICT (path, username) DO UPDATE SET level = excluded.level",
                    (path, username, level),
                )
            else:
                conn.execute(
                    "INSERT INTO studio_grants (path, user_id, level) VALUES (%s, %s, %s) "
                    "ON CONFLICT (path, user_id) DO UPDATE SET level = excluded.level",
                    (path, found[0], level),
                )

    def revoke_permission(self, path: str, username: str) -> bool:
        with self._pool.transaction() as conn:
            granted = conn.execute(
                "DELETE FROM studio_grants WHERE path = %s AND user_id = "
                "(SELECT user_id FROM studio_users WHERE username = %s)",
                (path, username),
            ).rowcount
            pending = conn.execute(
                "DELETE FROM studio_name_grants WHERE path = %s AND username = %s",
                (path, username),
            ).rowcount
        return granted + pending > 0

    # ------------------------------------------------------------------ secrets

    def token_key(self) -> bytes:
        with self._pool.transaction() as conn:
            conn.execute(
                "INSERT INTO studio_meta VALUES ('token_key', %s) ON CONFLICT DO NOTHING",
                (secrets.token_hex(32),),
            )
            row = conn.execute("SELECT value FROM studio_meta WHERE key = 'token_key'").fetchone()
        assert row is not None
        return bytes.fromhex(str(row[0]))

    def start_workers(self) -> None:
        self._worker.start()

    def close(self) -> None:
        self._pool.close()
        self._worker.shutdown()
        if self._temporary:
            shutil.rmtree(self._base, ignore_errors=True)
