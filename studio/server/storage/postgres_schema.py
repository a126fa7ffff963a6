"""Connecting to PostgreSQL and keeping its schema current.

The driver (psycopg 3, chosen in docs/server.md "Storage backends") is
imported here and only when a ``--store`` is used: ``import studio.server``
works without it (it comes with the ``studio[postgres]`` extra).

The schema is versioned: ``MIGRATIONS[n - 1]`` brings version ``n - 1`` to
``n``, and :func:`migrate` applies what a database lacks in one transaction,
under an advisory lock, so that several servers starting at once against
one database migrate it once. A database of a newer schema than this server
knows is refused (an older server must not write to it).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from studio.server.storage.errors import AlreadyExists, StorageError

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK: Final = 0x53545544  # "STUD": the two-key advisory lock space
QUOTA_LOCK: Final = 0x51554F54  # "QUOT": per-owner realm count checks
NOTIFY_CHANNEL: Final = "studio_cluster"
"""Where server processes sharing the database hear of each other's commits."""
REALM_LEASE: Final = 0x4C454153  # "LEAS": which process integrates into a realm (cluster.py)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: accounts, realms, grants, quotas, histories and client idents
    (
        "CREATE TABLE studio_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE studio_users (
            user_id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            is_admin BOOLEAN NOT NULL DEFAULT false,
            suspended BOOLEAN NOT NULL DEFAULT false,
            created DOUBLE PRECISION NOT NULL,
            token_generation INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE studio_realms (
            id BIGSERIAL PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            owner_id TEXT,
            created DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX studio_realms_owner ON studio_realms (owner_id)",
        """CREATE TABLE studio_grants (
            path TEXT NOT NULL,
            user_id TEXT NOT NULL,
            level TEXT NOT NULL,
            PRIMARY KEY (path, user_id))""",
        "CREATE INDEX studio_grants_user ON studio_grants (user_id)",
        # grants to a name without an account: moved to the account next
        # created with that name (as in the SQLite backend)
        """CREATE TABLE studio_name_grants (
            path TEXT NOT NULL,
            username TEXT NOT NULL,
            level TEXT NOT NULL,
            PRIMARY KEY (path, username))""",
        """CREATE TABLE studio_ident_quota (
            user_id TEXT PRIMARY KEY,
            issued INTEGER NOT NULL)""",
        """CREATE TABLE studio_history (
            realm_id BIGINT NOT NULL REFERENCES studio_realms (id) ON DELETE CASCADE,
            server_version BIGINT NOT NULL,
            origin_file_ident BIGINT NOT NULL,
            client_version BIGINT NOT NULL,
            timestamp_ms BIGINT NOT NULL,
            integrated_at_ms BIGINT NOT NULL,
            username TEXT NOT NULL,
            changeset BYTEA NOT NULL,
            PRIMARY KEY (realm_id, server_version),
            UNIQUE (realm_id, origin_file_ident, client_version))""",
        """CREATE TABLE studio_clients (
            realm_id BIGINT NOT NULL REFERENCES studio_realms (id) ON DELETE CASCADE,
            ident BIGINT NOT NULL,
            username TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            progress BIGINT NOT NULL DEFAULT 0,
            user_id TEXT,
            salt BIGINT,
            PRIMARY KEY (realm_id, ident))""",
    ),
    # 2: each realm's latest version and history bytes kept on its row: the
    # version check of an append and the stats of a listing read one row
    # instead of scanning the history.
    (
        "ALTER TABLE studio_realms ADD COLUMN server_version BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE studio_realms ADD COLUMN history_bytes BIGINT NOT NULL DEFAULT 0",
        """UPDATE studio_realms SET server_version = h.latest, history_bytes = h.bytes
            FROM (SELECT realm_id, max(server_version) AS latest,
                         sum(octet_length(changeset)) AS bytes
                  FROM studio_history GROUP BY realm_id) AS h
            WHERE h.realm_id = studio_realms.id""",
    ),
    # 3: history compaction: each realm's floor, each client's last client
    # version compacted into the snapshot (studio.sync.history.ServerHistory.compact).
    (
        "ALTER TABLE studio_realms ADD COLUMN history_base BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE studio_clients ADD COLUMN floor_client_version BIGINT NOT NULL DEFAULT 0",
    ),
    # 4: the server processes sharing the database (heartbeats, for
    # GET /admin/nodes; postgres_cluster.py)
    (
        """CREATE TABLE studio_nodes (
            node_id TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started DOUBLE PRECISION NOT NULL,
            heartbeat DOUBLE PRECISION NOT NULL,
            connections INTEGER NOT NULL DEFAULT 0,
            sessions INTEGER NOT NULL DEFAULT 0,
            realms INTEGER NOT NULL DEFAULT 0,
            subscribers INTEGER NOT NULL DEFAULT 0,
            version TEXT NOT NULL DEFAULT '')""",
    ),
)
SCHEMA: Final = len(MIGRATIONS)



LOST_SERVER_DEFAULTS: Final = {
    # A machine that died (not just its PostgreSQL) refuses nothing: without
    # a limit a connection attempt, or a query in flight, would wait for the
    # kernel's TCP timeouts (minutes) instead of failing over.
    "connect_timeout": "10",  # seconds per host, then the next host of the DSN
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",  # ms a sent request may stay unacknowledged
}
"""libpq settings the server adds to a ``--store`` DSN lacking them (TCP ones
do nothing on unix sockets); docs/deployment.md."""


def lost_server_settings(dsn: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Those of :data:`LOST_SERVER_DEFAULTS` that neither ``dsn`` nor the
    environment (``PGCONNECT_TIMEOUT``) sets."""
    from psycopg.conninfo import conninfo_to_dict

    given = set(conninfo_to_dict(dsn))
    if (os.environ if environ is None else environ).get("PGCONNECT_TIMEOUT"):
        given.add("connect_timeout")
    return {k: v for k, v in LOST_SERVER_DEFAULTS.items() if k not in given}


def load_driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StorageError(
            "a PostgreSQL --store needs the psycopg driver: pip install 'studio[postgres]'"
        ) from None
    return psycopg


def schema_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    row = conn.execute("SELECT to_regclass('studio_schema') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT version FROM studio_schema").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: psycopg.Connection[tuple[Any, ...]], upto: int = SCHEMA) -> int:
    """Bring the database to schema ``upto`` (tests stop early to make an
    old database); returns the version it had."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS studio_schema (version INTEGER NOT NULL)")
        found = conn.execute("SELECT version FROM studio_schema").fetchone()
        if found is None:
            conn.execute("INSERT INTO studio_schema VALUES (0)")
        current = int(found[0]) if found else 0
        if current > SCHEMA:
            raise StorageError(
                f"the database has Studio schema {current}, newer than this server's "
                f"({SCHEMA}): run a newer server"
            )
        for version in range(current + 1, upto + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
        if upto > current:
            conn.execute("UPDATE studio_schema SET version = %s", (upto,))
    return current


class ConnectionPool:
    """A few connections, opened when first needed (blocking calls come from
    worker threads; each takes one connection for one transaction)."""

    def __init__(self, dsn: str, size: int = 8) -> None:
        self._driver = load_driver()
        self._dsn = dsn
        try:
            self._settings = lost_server_settings(dsn)
        except self._driver.ProgrammingError as exc:  # not a connection string libpq reads
            raise StorageError(
                f"--store is not a valid PostgreSQL connection string: {exc}"
            ) from None
        self._idle: queue.LifoQueue[psycopg.Connection[tuple[Any, ...]]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        driver = self._driver
        try:
            conn: psycopg.Connection[tuple[Any, ...]] = driver.connect(
                self._dsn, autocommit=True, application_name="studio-server", **self._settings
            )
            # Acknowledged means committed: never trade durability for speed,
            # whatever the database's default is.
            conn.execute("SET synchronous_commit TO on")
        except driver.Error as exc:
            raise StorageError(f"cannot connect to the PostgreSQL store: {exc}") from None
        return conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """One transaction on a pooled connection; committed when the block
        ends (PostgreSQL errors become StorageErrors, a unique key violated
        AlreadyExists)."""
        driver = self._driver
        with self._slots:
            if self._closed:
                raise StorageError("the PostgreSQL store is closed")
            conn: psycopg.Connection[tuple[Any, ...]] | None = None
            try:
                with contextlib.ExitStack() as stack:
                    conn = self._begin(stack)
                    yield conn
            except driver.errors.UniqueViolation as exc:
                raise AlreadyExists(str(exc).strip()) from None
            except driver.Error as exc:
                if isinstance(exc, driver.OperationalError) or (conn is not None and conn.broken):
                    self._drop_idle()  # they were connected to the same lost server
                raise StorageError(f"PostgreSQL store: {str(exc).strip()}") from None
            finally:
                if conn is not None:
                    if conn.closed or conn.broken:
                        conn.close()
                    else:
                        self._idle.put(conn)

    def _begin(self, stack: contextlib.ExitStack) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection with a transaction begun (ended by ``stack``).

        An idle connection may be dead: PostgreSQL was restarted, or a standby
        promoted (docs/deployment.md). Its BEGIN fails before anything of the
        caller's ran, so the work moves to a new connection (the DSN's
        ``target_session_attrs=read-write`` finds the new primary), and the
        other idle connections, as dead, are dropped: a failover costs no call.
        """
        driver = self._driver
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            pass
        else:
            try:
                stack.enter_context(conn.transaction())
                return conn
            except driver.OperationalError:
                conn.close()
                self._drop_idle()
        conn = self.connect()
        try:
            stack.enter_context(conn.transaction())
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop_idle(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        self._closed = True
        self._drop_idle()
