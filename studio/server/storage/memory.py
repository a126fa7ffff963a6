"""A storage that keeps everything in memory: for unit tests (the same
contract as the SQLite and PostgreSQL backends, tests/server/
test_storage_contract.py), never for data anyone needs.

Several :class:`MemoryServerStorage` objects may share one
:class:`MemoryDatabase`, like server processes sharing one PostgreSQL
database: appends to a realm are version-checked the same way. Realm states
live in cache files in a temporary directory (cached_state.py).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from studio.server.paths import file_stem
from studio.server.storage.base import (
    ClientIdent,
    CompactionFigures,
    LoadedHistory,
    RealmRecord,
    RealmStats,
    RealmStorage,
    RealmWrite,
    ServerStorage,
    StoredEntry,
    UserRecord,
    check_compaction,
    check_next_version,
    snapshot_rows,
)
from studio.server.storage.cached_state import CachedState, closed_realm_stats
from studio.server.storage.errors import (
    AlreadyExists,
    Missing,
    QuotaExceeded,
    StorageError,
)
from studio.server.storage.state_worker import StateWorker
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import SyncError
from studio.sync.history import Compaction, HistoryEntry

_Row = tuple[int, int, int, int, int, str, bytes]
"""server_version, origin_file_ident, client_version, timestamp_ms,
integrated_at_ms, user, changeset bytes"""


@dataclass
class _Client:
    user: str
    user_id: str | None = None
    salt: int | None = None
    progress: int = 0
    floor_client_version: int = 0


@dataclass
class _Realm:
    realm_id: int
    owner_id: str | None
    created: float
    history: list[_Row] = field(default_factory=list)
    history_bytes: int = 0
    clients: dict[int, _Client] = field(default_factory=dict)
    base_version: int = 0

    def rows_after(self, since: int, limit: int) -> list[_Row]:
        # Versions have no gaps from the first stored row on (which is past
        # 1 after a compaction): row i holds version first + i.
        first = self.history[0][0] if self.history else 1
        start = max(0, since - first + 1)
        return self.history[start : start + limit]


@dataclass
class MemoryDatabase:
    """What a memory storage keeps; shared by every storage object given it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, UserRecord] = field(default_factory=dict)
    """By user id."""
    realms: dict[str, _Realm] = field(default_factory=dict)
    next_realm_id: int = 1
    grants: dict[tuple[str, str], str] = field(default_factory=dict)
    """(path, user_id) -> level"""
    name_grants: dict[tuple[str, str], str] = field(default_factory=dict)
    """(path, username) -> level"""
    ident_quota: dict[str, int] = field(default_factory=dict)
    token_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def user_named(self, username: str) -> UserRecord | None:
        return next((u for u in self.users.values() if u.username == username), None)


def _entry(row: _Row) -> StoredEntry:
    version, origin, client_version, timestamp, integrated_at, user, blob = row
    try:
        changeset = decode_changeset(blob)
    except SyncError as exc:
        raise StorageError(f"a stored changeset (version {version}) is damaged: {exc}") from exc
    return StoredEntry(
        HistoryEntry(version, origin, client_version, timestamp, changeset, integrated_at), user
    )


class MemoryRealmStorage(RealmStorage):
    def __init__(self, path: str, db: MemoryDatabase, realm: _Realm, state: CachedState) -> None:
        self.path = path
        self._db = db
        self._realm = realm
        self._state = state
        self._closed = False

    def _live(self) -> _Realm:
        if self._closed:
            raise StorageError(f"the storage of {self.path} is closed")
        if self._db.realms.get(self.path) is not self._realm:
            raise Missing(f"realm {self.path} was deleted")
        return self._realm

    def load(self) -> LoadedHistory:
        with self._db.lock:
            realm = self._live()
            rows = list(realm.history)
            clients = {i: replace(c) for i, c in realm.clients.items()}
            base = realm.base_version
        entries = [_entry(row) for row in rows]
        max_ident = max([*clients, *(e.entry.origin_file_ident for e in entries), 0])
        return LoadedHistory(
            entries,
            max_ident,
            {i: c.progress for i, c in clients.items() if c.progress},
            {i: ClientIdent(i, c.user, c.user_id, c.salt) for i, c in clients.items()},
            base,
            {i: c.floor_client_version for i, c in clients.items() if c.floor_client_version},
        )

    def append(self, write: RealmWrite) -> None:
        if not write:
            return
        rows: list[_Row] = [
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
        with self._db.lock:
            realm = self._live()
            if rows:
                latest = realm.history[-1][0] if realm.history else 0
                check_next_version(self.path, latest, rows[0][0])
                seen = {(r[1], r[2]) for r in realm.history}
                if any((r[1], r[2]) in seen for r in rows):
                    raise StorageError(f"a changeset of {self.path} would be stored twice")
                realm.history.extend(rows)
                realm.history_bytes += sum(len(r[6]) for r in rows)
            for ident in write.new_idents:
                known = realm.clients.get(ident.ident)
                progress = known.progress if known else 0
                realm.clients[ident.ident] = _Client(
                    ident.user, ident.user_id, ident.salt, progress
                )
            for number, version in write.progress.items():
                client = realm.clients.setdefault(number, _Client(""))
                client.progress = max(client.progress, version)

    def read_history(self, since: int, limit: int) -> list[StoredEntry]:
        with self._db.lock:
            rows = self._live().rows_after(since, limit)
        return [_entry(row) for row in rows]

    def _rows(self, since: int, limit: int) -> list[tuple[int, bytes]]:
        with self._db.lock:
            return [(r[0], r[6]) for r in self._live().rows_after(since, limit)]

    def history_size(self) -> tuple[int, int]:
        with self._db.lock:
            realm = self._live()
            return len(realm.history), realm.history_bytes

    def compact(self, compaction: Compaction) -> CompactionFigures:
        snapshot = snapshot_rows(compaction)
        with self._db.lock:
            realm = self._live()
            latest = realm.history[-1][0] if realm.history else 0
            check_compaction(self.path, realm.base_version, latest, compaction)
            before, bytes_before = len(realm.history), realm.history_bytes
            kept = [r for r in realm.history if r[0] > compaction.base_version]
            realm.history = [*snapshot, *kept]
            realm.history_bytes = sum(len(r[6]) for r in realm.history)
            realm.base_version = compaction.base_version
            for ident, floor in compaction.client_floors.items():
                client = realm.clients.setdefault(ident, _Client(""))
                client.floor_client_version = max(client.floor_client_version, floor)
            return CompactionFigures(
                before, len(realm.history), bytes_before, realm.history_bytes
            )

    def _latest(self) -> tuple[int, int]:
        with self._db.lock:
            realm = self._live()
            return (realm.history[-1][0] if realm.history else 0), realm.history_bytes

    def update_state(self, max_changesets: int = 128) -> RealmStats:
        latest, size = self._latest()
        return self._state.update(self._rows, latest, size, max_changesets)

    def stats(self) -> RealmStats:
        return self._state.stats(*self._latest())

    def state_file(self) -> Path:  # hook for the REST API (base.py)
        return self._state.file

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._state.close()


class MemoryServerStorage(ServerStorage):
    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.database = database if database is not None else MemoryDatabase()
        self._cache_dir = Path(tempfile.mkdtemp(prefix="studio-memory-state-"))
        self._worker = StateWorker(in_process=True)

    # -- users
    def count_users(self) -> int:
        return len(self.database.users)

    def get_user(self, username: str) -> UserRecord | None:
        with self.database.lock:
            return self.database.user_named(username)

    def get_user_by_id(self, user_id: str) -> UserRecord | None:
        return self.database.users.get(user_id)

    def list_users(self) -> list[UserRecord]:
        with self.database.lock:
            return sorted(self.database.users.values(), key=lambda u: u.username)

    def create_user(self, user: UserRecord) -> None:
        db = self.database
        with db.lock:
            if db.user_named(user.username) is not None or user.user_id in db.users:
                raise AlreadyExists(f"user {user.username!r} already exists")
            db.users[user.user_id] = user
            for (path, name), level in list(db.name_grants.items()):
                if name == user.username:
                    db.grants[(path, user.user_id)] = level
                    del db.name_grants[(path, name)]

    def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        is_admin: bool | None = None,
        suspended: bool | None = None,
    ) -> UserRecord:
        db = self.database
        with db.lock:
            user = db.user_named(username)
            if user is None:
                raise Missing(f"there is no user {username!r}")
            if password_hash is not None:
                user = replace(
                    user, password_hash=password_hash, token_generation=user.token_generation + 1
                )
            if is_admin is not None:
                user = replace(user, is_admin=is_admin)
            if suspended is not None:
                user = replace(user, suspended=suspended)
            db.users[user.user_id] = user
            return user

    def delete_user(self, username: str) -> None:
        db = self.database
        with db.lock:
            user = db.user_named(username)
            if user is None:
                raise Missing(f"there is no user {username!r}")
            del db.users[user.user_id]
            for key in [k for k in db.grants if k[1] == user.user_id]:
                del db.grants[key]

    # -- realms
    def _record(self, path: str, realm: _Realm) -> RealmRecord:
        owner = self.database.users.get(realm.owner_id) if realm.owner_id else None
        return RealmRecord(path, owner.username if owner else None, realm.created, realm.owner_id)

    def get_realm(self, path: str) -> RealmRecord | None:
        with self.database.lock:
            realm = self.database.realms.get(path)
            return None if realm is None else self._record(path, realm)

    def list_realms(self) -> list[RealmRecord]:
        with self.database.lock:
            return [self._record(p, r) for p, r in sorted(self.database.realms.items())]

    def create_realm(
        self, path: str, owner: str | None, *, owner_limit: int | None = None
    ) -> RealmRecord:
        db = self.database
        with db.lock:
            if path in db.realms:
                raise AlreadyExists(f"realm {path} already exists")
            user = db.user_named(owner) if owner is not None else None
            owner_id = user.user_id if user else None
            if owner_id is not None and owner_limit is not None:
                owned = sum(1 for r in db.realms.values() if r.owner_id == owner_id)
                if owned >= owner_limit:
                    raise QuotaExceeded(
                        f"{owner} owns {owned} realms, the most allowed "
                        f"(--max-realms-per-user {owner_limit}); delete one "
                        "or ask an admin to create it"
                    )
            realm = db.realms[path] = _Realm(db.next_realm_id, owner_id, time.time())
            db.next_realm_id += 1
            return self._record(path, realm)

    def reserve_client_ident(self, user_id: str, limit: int) -> bool:
        db = self.database
        with db.lock:
            issued = db.ident_quota.get(user_id, 0)
            if issued >= limit:
                return False
            db.ident_quota[user_id] = issued + 1
            return True

    def delete_realm(self, path: str) -> None:
        db = self.database
        with db.lock:
            if db.realms.pop(path, None) is None:
                raise Missing(f"there is no realm {path}")
            for grants in (db.grants, db.name_grants):
                for key in [k for k in grants if k[0] == path]:
                    del grants[key]

    def _cache_file(self, path: str, realm: _Realm) -> Path:
        return self._cache_dir / f"{file_stem(path, realm.realm_id)}.realm"

    def open_realm(self, path: str) -> RealmStorage:
        with self.database.lock:
            realm = self.database.realms.get(path)
            if realm is None:
                raise Missing(f"there is no realm {path}")
        state = CachedState(path, self._cache_file(path, realm), self._worker)
        return MemoryRealmStorage(path, self.database, realm, state)

    def realm_stats(self, path: str) -> RealmStats:
        with self.database.lock:
            realm = self.database.realms.get(path)
            if realm is None:
                raise Missing(f"there is no realm {path}")
            latest = realm.history[-1][0] if realm.history else 0
            size = realm.history_bytes
        return closed_realm_stats(self._worker, self._cache_file(path, realm), latest, size)

    # -- permissions
    def get_permission(self, path: str, user_id: str) -> str | None:
        return self.database.grants.get((path, user_id))

    def list_permissions(self, path: str) -> list[tuple[str, str]]:
        db = self.database
        with db.lock:
            found = [
                (db.users[uid].username, level)
                for (p, uid), level in db.grants.items()
                if p == path and uid in db.users
            ]
            found += [(name, level) for (p, name), level in db.name_grants.items() if p == path]
        return sorted(found)

    def user_permissions(self, username: str) -> list[tuple[str, str]]:
        db = self.database
        with db.lock:
            user = db.user_named(username)
            if user is None:
                return []
            return sorted((p, lv) for (p, uid), lv in db.grants.items() if uid == user.user_id)

    def set_permission(self, path: str, username: str, level: str) -> None:
        db = self.database
        with db.lock:
            user = db.user_named(username)
            if user is None:
                db.name_grants[(path, username)] = level
            else:
                db.grants[(path, user.user_id)] = level

    def revoke_permission(self, path: str, username: str) -> bool:
        db = self.database
        with db.lock:
            user = db.user_named(username)
            found = user is not None and db.grants.pop((path, user.user_id), None) is not None
            pending = db.name_grants.pop((path, username), None) is not None
            return found or pending

    # -- secrets
    def token_key(self) -> bytes:
        return self.database.token_key

    def close(self) -> None:
        self._worker.shutdown()
        shutil.rmtree(self._cache_dir, ignore_errors=True)
