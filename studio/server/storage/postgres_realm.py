"""One realm's history and client idents in PostgreSQL (postgres.py has the
rest). Appends are serialised per realm across server processes: each takes
``pg_advisory_xact_lock(realm_id)`` and checks that its first version follows
the stored latest one (``studio_realms.server_version``); a process that lost
a race gets :class:`~studio.server.storage.errors.VersionConflict`, stores
nothing, and reloads the realm to merge again. Committed with
``synchronous_commit=on`` before :meth:`append` returns.

Each append also sends ``NOTIFY studio_cluster`` (in its transaction, so at
its commit) with the realm's new latest version: the other processes load
the new rows and send them to their clients (studio/server/cluster.py).
Client file idents are allocated here too (:meth:`allocate_ident`), so that
two processes never hand out the same one.

The realm's current state is a local cache file (cached_state.py) built from
the history: a server process keeps nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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
from studio.server.storage.cached_state import CachedState
from studio.server.storage.cluster_messages import VersionStored, encode_message
from studio.server.storage.errors import Missing, StorageError
from studio.server.storage.postgres_schema import NOTIFY_CHANNEL, ConnectionPool
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import SyncError
from studio.sync.history import Compaction, HistoryEntry

_HISTORY_COLUMNS = (
    "server_version, origin_file_ident, client_version, timestamp_ms, "
    "integrated_at_ms, username, changeset"
)


class PostgresRealmStorage(RealmStorage):
    def __init__(
        self, path: str, realm_id: int, pool: ConnectionPool, state: CachedState, node: str = ""
    ) -> None:
        """``node``: the id of this server process, sent with each NOTIFY
        (a process skips its own)."""
        self.path = path
        self.realm_id = realm_id
        self.node = node
        self._pool = pool
        self._state = state
        self._closed = False

    def _entries(self, rows: list[tuple[Any, ...]]) -> list[StoredEntry]:
        try:
            return [
                StoredEntry(
                    HistoryEntry(
                        int(v), int(o), int(cv), int(ts), decode_changeset(bytes(blob)), int(at)
                    ),
                    str(user),
                )
                for v, o, cv, ts, at, user, blob in rows
            ]
        except SyncError as exc:
            raise StorageError(f"the stored history of {self.path} is damaged: {exc}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the storage of {self.path} is closed")

    def load(self) -> LoadedHistory:
        self._check_open()
        with self._pool.transaction() as conn:
            # one snapshot for the history and the idents
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = conn.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM studio_history WHERE realm_id = %s "
                "ORDER BY server_version",
                (self.realm_id,),
            ).fetchall()
            clients = conn.execute(
                "SELECT ident, progress, username, user_id, salt, floor_client_version "
                "FROM studio_clients WHERE realm_id = %s",
                (self.realm_id,),
            ).fetchall()
            found = conn.execute(
                "SELECT history_base FROM studio_realms WHERE id = %s", (self.realm_id,)
            ).fetchone()
        entries = self._entries(rows)
        max_ident = max(
            [int(r[0]) for r in clients] + [e.entry.origin_file_ident for e in entries] + [0]
        )
        return LoadedHistory(
            entries,
            max_ident,
            {int(r[0]): int(r[1]) for r in clients if r[1]},
            {
                int(ident): ClientIdent(
                    int(ident), user, user_id, None if salt is None else int(salt)
                )
                for ident, _, user, user_id, salt, _ in clients
            },
            int(found[0]) if found else 0,
            {int(r[0]): int(r[5]) for r in clients if r[5]},
        )

    def append(self, write: RealmWrite) -> None:
        if not write:
            return
        self._check_open()
        realm_id = self.realm_id
        now_ms = int(time.time() * 1000)
        rows = [
            (
                realm_id,
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
        with self._pool.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (realm_id,))
            found = conn.execute(
                "SELECT server_version FROM studio_realms WHERE id = %s", (realm_id,)
            ).fetchone()
            if found is None:
                raise Missing(f"realm {self.path} was deleted")
            if rows:
                check_next_version(self.path, int(found[0]), rows[0][1])
                with conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO studio_history (realm_id, {_HISTORY_COLUMNS}) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
                conn.execute(
                    "UPDATE studio_realms SET server_version = %s, "
                    "history_bytes = history_bytes + %s WHERE id = %s",
                    (rows[-1][1], sum(len(r[7]) for r in rows), realm_id),
                )
                conn.execute(
                    "SELECT pg_notify(%s, %s)",
                    (
                        NOTIFY_CHANNEL,
                        encode_message(VersionStored(self.node, realm_id, rows[-1][1])),
                    ),
                )
            if write.new_idents:
                with conn.cursor() as cur:
                    # an ident adopted after an upgrade gets its owner and salt
                    cur.executemany(
                        "INSERT INTO studio_clients "
                        "(realm_id, ident, username, created_ms, user_id, salt) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (realm_id, ident) "
                        "DO UPDATE SET username = excluded.username, "
                        "user_id = excluded.user_id, salt = excluded.salt",
                        [
                            (realm_id, i.ident, i.user, now_ms, i.user_id, i.salt)
                            for i in write.new_idents
                        ],
                    )
            if write.progress:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO studio_clients "
                        "(realm_id, ident, username, created_ms, progress) "
                        "VALUES (%s, %s, '', %s, %s) ON CONFLICT (realm_id, ident) "
                        "DO UPDATE SET progress = "
                        "greatest(studio_clients.progress, excluded.progress)",
                        [(realm_id, i, now_ms, v) for i, v in write.progress.items()],
                    )

    def history_size(self) -> tuple[int, int]:
        self._check_open()
        with self._pool.transaction() as conn:
            counted = conn.execute(
                "SELECT count(*), coalesce(sum(octet_length(changeset)), 0) "
                "FROM studio_history WHERE realm_id = %s",
                (self.realm_id,),
            ).fetchone()
        return (int(counted[0]), int(counted[1])) if counted else (0, 0)

    def compact(self, compaction: Compaction) -> CompactionFigures:
        self._check_open()
        realm_id = self.realm_id
        snapshot = [(realm_id, *row) for row in snapshot_rows(compaction)]
        now_ms = int(time.time() * 1000)
        with self._pool.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (realm_id,))
            found = conn.execute(
                "SELECT server_version, history_bytes, history_base FROM studio_realms "
                "WHERE id = %s",
                (realm_id,),
            ).fetchone()
            if found is None:
                raise Missing(f"realm {self.path} was deleted")
            latest, bytes_before, stored_base = (int(v) for v in found)
            check_compaction(self.path, stored_base, latest, compaction)
            counted = conn.execute(
                "SELECT count(*) FROM studio_history WHERE realm_id = %s", (realm_id,)
            ).fetchone()
            before = int(counted[0]) if counted else 0
            dropped = conn.execute(
                "DELETE FROM studio_history WHERE realm_id = %s AND server_version <= %s "
                "RETURNING octet_length(changeset)",
                (realm_id, compaction.base_version),
            ).fetchall()
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO studio_history (realm_id, {_HISTORY_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    snapshot,
                )
                cur.executemany(
                    "INSERT INTO studio_clients "
                    "(realm_id, ident, username, created_ms, floor_client_version) "
                    "VALUES (%s, %s, '', %s, %s) ON CONFLICT (realm_id, ident) "
                    "DO UPDATE SET floor_client_version = greatest("
                    "studio_clients.floor_client_version, excluded.floor_client_version)",
                    [(realm_id, i, now_ms, v) for i, v in compaction.client_floors.items()],
                )
            bytes_after = (
                bytes_before - sum(int(r[0]) for r in dropped) + sum(len(r[7]) for r in snapshot)
            )
            conn.execute(
                "UPDATE studio_realms SET history_bytes = %s, history_base = %s WHERE id = %s",
                (bytes_after, compaction.base_version, realm_id),
            )
        after = before - len(dropped) + len(snapshot)
        return CompactionFigures(before, after, bytes_before, bytes_after)

    def allocate_ident(self, user: str, user_id: str | None, salt: int) -> int:
        """Store a new client file ident issued to ``user`` with ``salt``;
        returns it (one more than any stored, whichever process stored it)."""
        self._check_open()
        with self._pool.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.realm_id,))
            row = conn.execute(
                "INSERT INTO studio_clients (realm_id, ident, username, created_ms, user_id, salt) "
                "SELECT %s, coalesce(max(ident), 0) + 1, %s, %s, %s, %s FROM studio_clients "
                "WHERE realm_id = %s RETURNING ident",
                (self.realm_id, user, int(time.time() * 1000), user_id, salt, self.realm_id),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def read_idents(self, above: int) -> list[ClientIdent]:
        """The client file idents after ``above`` (those other processes issued)."""
        self._check_open()
        with self._pool.transaction() as conn:
            rows = conn.execute(
                "SELECT ident, username, user_id, salt FROM studio_clients "
                "WHERE realm_id = %s AND ident > %s ORDER BY ident",
                (self.realm_id, above),
            ).fetchall()
        return [
            ClientIdent(int(i), str(u), uid, None if salt is None else int(salt))
            for i, u, uid, salt in rows
        ]

    def latest_version(self) -> int:
        """The latest server version stored (by any process)."""
        self._check_open()
        return self._latest()[0]

    def read_history(self, since: int, limit: int) -> list[StoredEntry]:
        self._check_open()
        with self._pool.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM studio_history WHERE realm_id = %s "
                "AND server_version > %s ORDER BY server_version LIMIT %s",
                (self.realm_id, since, limit),
            ).fetchall()
        return self._entries(rows)

    def _rows(self, since: int, limit: int) -> list[tuple[int, bytes]]:
        with self._pool.transaction() as conn:
            rows = conn.execute(
                "SELECT server_version, changeset FROM studio_history WHERE realm_id = %s "
                "AND server_version > %s ORDER BY server_version LIMIT %s",
                (self.realm_id, since, limit),
            ).fetchall()
        return [(int(v), bytes(blob)) for v, blob in rows]

    def _latest(self) -> tuple[int, int]:
        with self._pool.transaction() as conn:
            found = conn.execute(
                "SELECT server_version, history_bytes FROM studio_realms WHERE id = %s",
                (self.realm_id,),
            ).fetchone()
        if found is None:
            raise Missing(f"realm {self.path} was deleted")
        return int(found[0]), int(found[1])

    def update_state(self, max_changesets: int = 128) -> RealmStats:
        self._check_open()
        latest, size = self._latest()
        return self._state.update(self._rows, latest, size, max_changesets)

    def stats(self) -> RealmStats:
        self._check_open()
        return self._state.stats(*self._latest())

    def state_file(self) -> Path:  # hook for the REST API (base.py)
        return self._state.file

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._state.close()
