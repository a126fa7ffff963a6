"""One contract for every storage backend: memory (unit tests), SQLite (the
embedded default) and PostgreSQL (``--store``, against a real server that
the tests start, pg_support.py). Users and account ids, the token key,
grants (to accounts and to names without one), realms and their quota,
client idents with salts and their quota, the history (append, load, read
since, the version check), concurrent appends from two storage objects on
one database, realm stats, compaction (snapshot and floors replaced in one
transaction, loaded again, the state rebuilt from the snapshot); then
each schema'd backend's upgrade from an older schema."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_harness import SCHEMA, item

from studio.primitives.instructions import Changeset, Instruction
from studio.server.realms import build_history
from studio.server.storage.base import (
    ClientIdent,
    LoadedHistory,
    RealmWrite,
    ServerStorage,
    StoredEntry,
    UserRecord,
)
from studio.server.storage.errors import (
    AlreadyExists,
    Missing,
    QuotaExceeded,
    StorageError,
    VersionConflict,
)
from studio.server.storage.memory import MemoryDatabase, MemoryServerStorage
from studio.server.storage.sqlite import SqliteServerStorage
from studio.sync.history import Compaction, HistoryEntry

BACKENDS = ("memory", "sqlite", "postgresql")


class Backend:
    """Opens storage objects of one backend on one database (a second
    object on the same database is a second server process)."""

    def __init__(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self._opened: list[ServerStorage] = []
        self._memory = MemoryDatabase()
        self._tmp = tmp_path
        self._dsn = ""
        if kind == "postgresql":
            pg: PostgresForTests = request.getfixturevalue("postgres")
            self._dsn = pg.dsn(pg.new_database())

    def open(self) -> ServerStorage:
        storage: ServerStorage
        if self.kind == "memory":
            storage = MemoryServerStorage(self._memory)
        elif self.kind == "sqlite":
            storage = SqliteServerStorage(self._tmp / "data", state_in_process=True)
        else:
            from studio.server.storage.postgres import PostgresServerStorage

            storage = PostgresServerStorage(
                self._dsn, self._tmp / f"cache{len(self._opened)}", state_in_process=True
            )
        self._opened.append(storage)
        return storage

    def close_all(self) -> None:
        for storage in self._opened:
            storage.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    opened = Backend(request.param, tmp_path, request)
    try:
        yield opened
    finally:
        opened.close_all()


@pytest.fixture
def storage(backend: Backend) -> ServerStorage:
    return backend.open()


def user(name: str, *, admin: bool = False) -> UserRecord:
    return UserRecord(name, f"hash-{name}", admin, False, 1.0)


def entry(version: int, instructions: list[Instruction] | tuple[Instruction, ...]) -> StoredEntry:
    origin = 1 + version % 2
    changeset = Changeset(origin, version, version - 1, 1000 + version, tuple(instructions))
    return StoredEntry(
        HistoryEntry(version, origin, version, 1000 + version, changeset, 2000 + version), "ann"
    )


def entries(first: int, count: int) -> list[StoredEntry]:
    """Versions ``first``.. of a history whose version 1 holds the schema."""
    return [
        entry(v, SCHEMA if v == 1 else item(v % 4, f"v{v}")) for v in range(first, first + count)
    ]


# ---------------------------------------------------------------------------- accounts


def test_users_have_ids_and_a_name_reused_is_a_new_account(storage: ServerStorage) -> None:
    assert storage.count_users() == 0
    storage.create_user(user("bob"))
    storage.create_user(user("ann", admin=True))
    with pytest.raises(AlreadyExists, match="ann"):
        storage.create_user(user("ann"))
    ann = storage.get_user("ann")
    assert ann is not None and ann.is_admin and ann.password_hash == "hash-ann"
    assert storage.get_user_by_id(ann.user_id) == ann
    assert [u.username for u in storage.list_users()] == ["ann", "bob"]
    changed = storage.update_user("ann", password_hash="new", suspended=True)
    assert (changed.password_hash, changed.suspended, changed.token_generation) == ("new", True, 1)
    assert storage.update_user("ann", is_admin=False).token_generation == 1
    with pytest.raises(Missing):
        storage.update_user("nobody", suspended=True)

    storage.create_realm("/shared/r", None)
    storage.set_permission("/shared/r", "ann", "write")
    storage.delete_user("ann")
    with pytest.raises(Missing):
        storage.delete_user("ann")
    assert storage.get_user_by_id(ann.user_id) is None
    storage.create_user(user("ann"))
    again = storage.get_user("ann")
    assert again is not None and again.user_id != ann.user_id
    assert storage.get_permission("/shared/r", again.user_id) is None  # grants did not carry over
    assert storage.count_users() == 2


def test_token_key_is_made_once_and_kept(backend: Backend) -> None:
    first = backend.open().token_key()
    assert len(first) == 32 and backend.open().token_key() == first


def test_grants_to_accounts_and_to_names_without_one(storage: ServerStorage) -> None:
    storage.create_user(user("ann"))
    ann = storage.get_user("ann")
    assert ann is not None
    storage.create_realm("/shared/r", None)
    storage.set_permission("/shared/r", "ann", "read")
    storage.set_permission("/shared/r", "ann", "write")  # replaces
    storage.set_permission("/shared/r", "carl", "admin")  # no account yet
    assert storage.get_permission("/shared/r", ann.user_id) == "write"
    assert storage.list_permissions("/shared/r") == [("ann", "write"), ("carl", "admin")]
    assert storage.user_permissions("ann") == [("/shared/r", "write")]
    assert storage.user_permissions("carl") == []

    storage.create_user(user("carl"))  # the name grant becomes the account's
    carl = storage.get_user("carl")
    assert carl is not None
    assert storage.get_permission("/shared/r", carl.user_id) == "admin"
    assert storage.user_permissions("carl") == [("/shared/r", "admin")]
    assert storage.list_permissions("/shared/r") == [("ann", "write"), ("carl", "admin")]

    assert storage.revoke_permission("/shared/r", "ann") is True
    assert storage.revoke_permission("/shared/r", "ann") is False
    storage.set_permission("/shared/r", "dora", "read")
    assert storage.revoke_permission("/shared/r", "dora") is True
    assert storage.list_permissions("/shared/r") == [("carl", "admin")]


# ---------------------------------------------------------------------------- realms


def test_realms_owners_and_the_per_owner_quota(storage: ServerStorage) -> None:
    storage.create_user(user("ann"))
    ann = storage.get_user("ann")
    assert ann is not None
    record = storage.create_realm("/u/ann/a", "ann", owner_limit=2)
    assert (record.owner, record.owner_id) == ("ann", ann.user_id)
    storage.create_realm("/u/ann/b", "ann", owner_limit=2)
    with pytest.raises(QuotaExceeded, match="owns 2 realms"):
        storage.create_realm("/u/ann/c", "ann", owner_limit=2)
    assert storage.get_realm("/u/ann/c") is None
    storage.create_realm("/u/ann/c", "ann")  # no limit (an admin)
    with pytest.raises(AlreadyExists):
        storage.create_realm("/u/ann/a", "ann")
    nobody = storage.create_realm("/u/zed/x", "zed")
    assert (nobody.owner, nobody.owner_id) == (None, None)
    paths = [r.path for r in storage.list_realms()]
    assert paths == ["/u/ann/a", "/u/ann/b", "/u/ann/c", "/u/zed/x"]

    storage.set_permission("/u/ann/a", "ann", "admin")
    storage.set_permission("/u/ann/a", "eve", "read")
    storage.delete_realm("/u/ann/a")
    with pytest.raises(Missing):
        storage.delete_realm("/u/ann/a")
    assert storage.get_realm("/u/ann/a") is None
    storage.create_realm("/u/ann/a", "ann")
    assert storage.list_permissions("/u/ann/a") == []  # the grants went with the realm

    storage.delete_user("ann")  # realms keep the old account's id, and no owner name
    kept = storage.get_realm("/u/ann/b")
    assert kept is not None and (kept.owner, kept.owner_id) == (None, ann.user_id)


def test_client_ident_quota_per_account(storage: ServerStorage) -> None:
    assert [storage.reserve_client_ident("id-a", 3) for _ in range(4)] == [True] * 3 + [False]
    assert storage.reserve_client_ident("id-b", 3) is True
    assert storage.reserve_client_ident("id-c", 0) is False


# ---------------------------------------------------------------------------- history


def test_history_append_load_and_read_since(storage: ServerStorage) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    assert store.load().entries == [] and store.load().max_file_ident == 0
    first = entries(1, 5)
    store.append(
        RealmWrite(
            first,
            [ClientIdent(1, "ann", "id-ann", 11), ClientIdent(2, "bob", "id-bob", 2**63 - 1)],
            {1: 3},
        )
    )
    store.append(RealmWrite(entries(6, 3), [], {1: 2, 2: 7}))  # progress only moves forward
    store.append(RealmWrite([], [ClientIdent(5, "ann", None, None)], {}))
    # an ident adopted after an upgrade gets its owner and salt
    store.append(RealmWrite([], [ClientIdent(5, "ann", "id-ann", 55)], {}))
    loaded = store.load()
    assert [e.entry for e in loaded.entries] == [e.entry for e in entries(1, 8)]
    assert {e.user for e in loaded.entries} == {"ann"}
    assert loaded.max_file_ident == 5
    assert loaded.progress == {1: 3, 2: 7}
    assert loaded.idents[2] == ClientIdent(2, "bob", "id-bob", 2**63 - 1)
    assert loaded.idents[5] == ClientIdent(5, "ann", "id-ann", 55)
    assert [e.entry.server_version for e in store.read_history(3, 2)] == [4, 5]
    assert store.read_history(8, 10) == []
    store.close()
    again = storage.open_realm("/shared/r")  # reopened: all still there
    assert len(again.load().entries) == 8
    again.close()


def test_an_append_that_does_not_follow_the_stored_history_stores_nothing(
    storage: ServerStorage,
) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 3)))
    for wrong in (3, 5, 1):
        with pytest.raises(VersionConflict, match="reload the realm"):
            store.append(RealmWrite(entries(wrong, 2), [ClientIdent(9, "x", "y", 1)], {1: 1}))
    loaded = store.load()
    assert len(loaded.entries) == 3 and loaded.idents == {} and loaded.progress == {}
    store.close()


def test_a_changeset_is_never_stored_twice(storage: ServerStorage) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 3)))
    again = entries(3, 1)[0]
    dup = StoredEntry(
        HistoryEntry(
            4,
            again.entry.origin_file_ident,
            again.entry.client_version,
            again.entry.timestamp_ms,
            again.entry.changeset,
            again.entry.integrated_at_ms,
        ),
        "ann",
    )
    with pytest.raises(StorageError, match=r"unique|UNIQUE|twice"):
        store.append(RealmWrite([dup]))
    assert len(store.load().entries) == 3
    store.close()


def test_two_storages_appending_to_one_realm_at_once_serialise(backend: Backend) -> None:
    """Two server processes (two storage objects on one database), each
    appending the version after the latest it knows; the loser of each race
    gets VersionConflict, re-reads and tries again: the history ends with
    every version once, no gap, no duplicate."""
    one, two = backend.open(), backend.open()
    one.create_realm("/shared/r", None)
    stores = [one.open_realm("/shared/r"), two.open_realm("/shared/r")]
    per_writer = 25
    conflicts = [0, 0]
    written: list[list[int]] = [[], []]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        store = stores[k]
        start.wait()
        try:
            while len(written[k]) < per_writer:
                latest = len(store.load().entries)
                try:
                    store.append(RealmWrite([entry(latest + 1, item(k, f"w{k}"))]))
                except VersionConflict:
                    conflicts[k] += 1
                    continue
                written[k].append(latest + 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    versions = [e.entry.server_version for e in stores[0].load().entries]
    assert versions == list(range(1, 2 * per_writer + 1))
    assert sorted(written[0] + written[1]) == versions
    for store in stores:
        store.close()


def test_realm_stats_follow_the_history(storage: ServerStorage) -> None:
    storage.create_realm("/shared/r", None)
    assert storage.realm_stats("/shared/r").server_version == 0
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 9)))
    stats = store.update_state(max_changesets=4)
    while stats.state_version < stats.server_version:
        stats = store.update_state(max_changesets=4)
    # 4 items (pks 0..3) and the counter
    assert (stats.objects, stats.server_version, stats.state_version) == (5, 9, 9)
    assert stats.size_bytes > 0 and stats.state_error is None
    assert store.stats().objects == 5
    store.close()
    closed = storage.realm_stats("/shared/r")
    assert (closed.objects, closed.server_version, closed.state_version) == (5, 9, 9)
    with pytest.raises(Missing):
        storage.realm_stats("/shared/none")


def test_a_realm_deleted_and_created_again_starts_empty(storage: ServerStorage) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 3)))
    store.update_state()
    store.close()
    storage.delete_realm("/shared/r")
    storage.create_realm("/shared/r", None)
    fresh = storage.open_realm("/shared/r")
    assert fresh.load().entries == []
    stats = fresh.update_state()
    assert (stats.objects, stats.server_version) == (0, 0)
    fresh.close()


def test_a_closed_realm_storage_refuses_work(storage: ServerStorage) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.read_history(0, 10)


# ---------------------------------------------------------------------------- schemas


def test_sqlite_upgrades_a_schema_1_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "server.sqlite")
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value);
        INSERT INTO meta VALUES ('format', 'studio-server-1');
        CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
            is_admin INTEGER NOT NULL DEFAULT 0, suspended INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL, token_generation INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE realms (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,
            owner TEXT, created REAL NOT NULL, file TEXT NOT NULL);
        CREATE TABLE permissions (path TEXT, username TEXT, level TEXT);
        INSERT INTO users (username, password_hash, created) VALUES ('ann', 'h', 1.0);
        INSERT INTO realms (path, owner, created, file) VALUES ('/u/ann/a', 'ann', 1.0, 'a.realm');
        INSERT INTO permissions VALUES ('/shared/x', 'ann', 'write');
        """
    )
    conn.close()
    storage = SqliteServerStorage(data, state_in_process=True)
    try:
        ann = storage.get_user("ann")
        assert ann is not None and ann.user_id
        realm = storage.get_realm("/u/ann/a")
        assert realm is not None and realm.owner_id == ann.user_id
        assert storage.get_permission("/shared/x", ann.user_id) == "write"
    finally:
        storage.close()


def test_postgresql_migrates_an_older_schema(
    postgres: PostgresForTests,  # noqa: F811
    tmp_path: Path,
) -> None:
    import psycopg

    from studio.server.storage.postgres import PostgresServerStorage
    from studio.server.storage.postgres_schema import SCHEMA as LATEST
    from studio.server.storage.postgres_schema import migrate, schema_version

    dsn = postgres.dsn(postgres.new_database())
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate(conn, upto=1) == 0  # the first release's schema, with data
        conn.execute(
            "INSERT INTO studio_realms (path, owner_id, created) VALUES ('/shared/r', NULL, 1)"
        )
        for stored in entries(1, 4):
            blob = b"x" * (10 * stored.entry.server_version)
            conn.execute(
                "INSERT INTO studio_history VALUES "
                "((SELECT id FROM studio_realms), %s, %s, %s, 0, 0, 'ann', %s)",
                (stored.entry.server_version, 1, stored.entry.server_version, blob),
            )
    storage = PostgresServerStorage(dsn, tmp_path / "cache", state_in_process=True)
    try:
        stats = storage.realm_stats("/shared/r")
        # schema 2 keeps each realm's latest version and bytes on its row
        assert (stats.server_version, stats.size_bytes) == (4, 100)
    finally:
        storage.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert schema_version(conn) == LATEST
        conn.execute("UPDATE studio_schema SET version = %s", (LATEST + 1,))
    with pytest.raises(StorageError, match="newer than this server"):
        PostgresServerStorage(dsn, tmp_path / "cache", state_in_process=True)


def test_postgresql_takes_libpq_multi_host_strings(
    postgres: PostgresForTests,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``host=a,b target_session_attrs=read-write``: libpq tries each host;
    the first here does not exist."""
    from studio.server.storage.postgres import PostgresServerStorage

    name = postgres.new_database()
    missing = tmp_path / "no-server-here"
    dsn = (
        f"host={missing},{postgres.socket_dir} user=postgres dbname={name} "
        "target_session_attrs=read-write connect_timeout=5"
    )
    storage = PostgresServerStorage(dsn, tmp_path / "cache", state_in_process=True)
    try:
        storage.create_user(user("ann"))
    finally:
        storage.close()
    from_uri = PostgresServerStorage(postgres.uri(name), None, state_in_process=True)
    try:
        assert from_uri.get_user("ann") is not None
    finally:
        from_uri.close()


def test_an_unreachable_store_is_a_clear_storage_error(tmp_path: Path) -> None:
    from studio.server.storage.postgres import PostgresServerStorage

    with pytest.raises(StorageError, match="cannot connect to the PostgreSQL store"):
        PostgresServerStorage(f"host={tmp_path} dbname=x connect_timeout=2", None)




# ---------------------------------------------------------------------------- compaction


def compacted_history(store_entries: list[StoredEntry], version: int) -> Compaction:
    """A compaction up to ``version`` of a history holding ``store_entries``."""
    history = build_history(LoadedHistory(store_entries, 2))
    compaction = history.compact(version, max_instructions=4)
    assert compaction is not None
    return compaction


def test_compaction_replaces_the_history_up_to_the_floor_in_one_go(backend: Backend) -> None:
    storage = backend.open()
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 8), [], {1: 6, 2: 5}))
    compaction = compacted_history(entries(1, 8), 5)
    snapshot_versions = [e.server_version for e in compaction.snapshot]
    assert snapshot_versions[-1] == 5 and len(snapshot_versions) > 1  # cut in runs of 4
    size_before = store.history_size()
    figures = store.compact(compaction)
    assert (figures.versions_before, figures.versions_after) == (8, len(snapshot_versions) + 3)
    assert figures.bytes_before > 0 and figures.bytes_after > 0
    assert size_before == (figures.versions_before, figures.bytes_before)
    assert store.history_size() == (figures.versions_after, figures.bytes_after)
    loaded = store.load()
    assert loaded.base_version == 5
    assert loaded.client_floors == {1: 4, 2: 5}  # the last of each client's compacted versions
    assert loaded.progress == {1: 6, 2: 5}
    assert [e.entry for e in loaded.entries] == [
        *compaction.snapshot,
        *(e.entry for e in entries(6, 3)),
    ]
    assert {e.user for e in loaded.entries[: len(snapshot_versions)]} == {""}
    assert [e.entry.server_version for e in store.read_history(0, 100)] == [
        *snapshot_versions,
        6,
        7,
        8,
    ]
    assert [e.entry.server_version for e in store.read_history(6, 1)] == [7]
    # The history goes on after the floor, and a second storage object (a
    # second server process) loads the same.
    store.append(RealmWrite(entries(9, 1)))
    store.close()
    other = backend.open().open_realm("/shared/r")
    reloaded = other.load()
    assert reloaded.base_version == 5 and reloaded.entries[-1].entry.server_version == 9
    history = build_history(reloaded)
    assert (history.base_version, history.latest_version) == (5, 9)
    assert history.last_client_version(1) == 8 and history.last_client_version(2) == 9
    other.close()


def test_a_compaction_that_does_not_fit_the_stored_history_changes_nothing(
    storage: ServerStorage,
) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 4)))
    # Past what is stored: the versions it replaces are not all on disk.
    with pytest.raises(VersionConflict, match="before it is stored"):
        store.compact(compacted_history(entries(1, 6), 6))
    store.compact(compacted_history(entries(1, 4), 3))
    # Planned on an older floor (another process compacted in between).
    with pytest.raises(VersionConflict, match="another server process compacted"):
        store.compact(compacted_history(entries(1, 4), 4))
    loaded = store.load()
    assert loaded.base_version == 3 and loaded.entries[-1].entry.server_version == 4
    store.close()


def test_the_state_of_a_compacted_realm_is_rebuilt_from_the_snapshot(
    storage: ServerStorage,
) -> None:
    storage.create_realm("/shared/r", None)
    store = storage.open_realm("/shared/r")
    store.append(RealmWrite(entries(1, 9)))
    store.compact(compacted_history(entries(1, 9), 7))
    # The state never saw the history: it starts from the snapshot.
    stats = store.update_state(max_changesets=3)
    while stats.state_version < stats.server_version:
        stats = store.update_state(max_changesets=3)
    assert (stats.objects, stats.server_version, stats.state_error) == (5, 9, None)
    store.close()
    assert storage.realm_stats("/shared/r").server_version == 9
