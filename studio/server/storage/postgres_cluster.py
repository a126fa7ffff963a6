"""What server processes sharing one PostgreSQL database tell each other
(the server side of it is studio/server/cluster.py):

* ``LISTEN studio_cluster``: each append notifies the realm's new latest
  version (postgres_realm.py), a process refused a realm's lease says it
  waits (``w``), one that gives a lease up says so (``r``), and admin events
  travel to the other processes' event streams;
* realm leases: a session-level advisory lock per realm, held by the one
  process integrating uploads into it (given up when another waits and what
  it integrated is stored; PostgreSQL releases it when the process dies);
* ``studio_nodes``: one row per process, refreshed by its heartbeat.

Blocking calls, each on a connection of its own: :meth:`ClusterLink.listen`
runs on a thread of its own until stopped; every other method uses the
control connection and must be called from one thread at a time (the
server's cluster thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from studio.server.storage.cluster_messages import LeaseReleased, LeaseWanted, encode_message
from studio.server.storage.errors import StorageError
from studio.server.storage.postgres_schema import NOTIFY_CHANNEL, REALM_LEASE, load_driver

if TYPE_CHECKING:
    import psycopg

LISTEN_POLL: Final = 0.5
"""Seconds the listener waits for a notification before checking whether to stop."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One server process as its last heartbeat described it."""

    node_id: str
    address: str
    pid: int
    host: str
    started: float
    heartbeat: float
    connections: int
    sessions: int
    realms: int
    subscribers: int
    version: str


def lease_key(realm_id: int) -> int:
    """The second key of a realm's lease lock (the two-key form takes int4)."""
    return realm_id & 0x7FFFFFFF


class ClusterLink:
    def __init__(self, dsn: str, node: str) -> None:
        self.node = node
        self._dsn = dsn
        self._driver = load_driver()
        self._control: psycopg.Connection[tuple[Any, ...]] | None = None
        self.lost_leases = 0
        """Counts control connections lost: the leases they held are gone."""

    # ------------------------------------------------------------------ control connection

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            conn: psycopg.Connection[tuple[Any, ...]] = self._driver.connect(
                self._dsn, autocommit=True, application_name="studio-cluster"
            )
        except self._driver.Error as exc:
            raise StorageError(f"cannot connect to the PostgreSQL store: {exc}") from None
        return conn

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self._control
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                self.lost_leases += 1
            conn = self._control = self._connect()
        try:
            cur = conn.execute(sql, args)
            return cur.fetchall() if cur.description is not None else []
        except self._driver.Error as exc:
            if conn.closed or conn.broken:
                self.lost_leases += 1
                conn.close()
                self._control = None
            raise StorageError(f"PostgreSQL cluster link: {str(exc).strip()}") from None

    def try_lease(self, realm_id: int) -> bool:
        """Take the realm's lease unless another process holds it; then tell
        that one we wait (``w``: it ends its turn)."""
        rows = self._run("SELECT pg_try_advisory_lock(%s, %s)", (REALM_LEASE, lease_key(realm_id)))
        got = bool(rows and rows[0][0])
        if not got:
            self._run(
                "SELECT pg_notify(%s, %s)",
                (NOTIFY_CHANNEL, encode_message(LeaseWanted(self.node, realm_id))),
            )
        return got

    def release_lease(self, realm_id: int) -> None:
        """Give the lease up, and tell the processes waiting for it."""
        self._run(
            "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)",
            (
                REALM_LEASE,
                lease_key(realm_id),
                NOTIFY_CHANNEL,
                encode_message(LeaseReleased(self.node, realm_id)),
            ),
        )

    def latest_versions(self, realm_ids: Iterable[int]) -> dict[int, int]:
        """The stored latest version of each realm (a missed notification
        is caught up from this)."""
        ids = list(realm_ids)
        if not ids:
            return {}
        rows = self._run("SELECT id, server_version FROM studio_realms WHERE id = ANY(%s)", (ids,))
        return {int(i): int(v) for i, v in rows}

    def publish(self, payloads: Iterable[str]) -> None:
        for payload in payloads:
            self._run("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))

    def heartbeat(self, row: NodeRow) -> None:
        self._run(
            "INSERT INTO studio_nodes (node_id, address, pid, host, started, heartbeat, "
            "connections, sessions, realms, subscribers, version) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (node_id) DO UPDATE "
            "SET address = excluded.address, heartbeat = excluded.heartbeat, "
            "connections = excluded.connections, sessions = excluded.sessions, "
            "realms = excluded.realms, subscribers = excluded.subscribers",
            (
                row.node_id,
                row.address,
                row.pid,
                row.host,
                row.started,
                row.heartbeat,
                row.connections,
                row.sessions,
                row.realms,
                row.subscribers,
                row.version,
            ),
        )

    def nodes(self, forget_before: float) -> list[NodeRow]:
        """Every process whose last heartbeat is newer than ``forget_before``
        (older rows are deleted: processes that died long ago)."""
        self._run("DELETE FROM studio_nodes WHERE heartbeat < %s", (forget_before,))
        rows = self._run(
            "SELECT node_id, address, pid, host, started, heartbeat, connections, sessions, "
            "realms, subscribers, version FROM studio_nodes ORDER BY started, node_id"
        )
        return [_node(r) for r in rows]

    def leave(self) -> None:
        """This process stops: its row goes, its leases with its connection."""
        try:
            self._run("DELETE FROM studio_nodes WHERE node_id = %s", (self.node,))
        except StorageError:
            pass  # the row goes stale and is forgotten later
        conn, self._control = self._control, None
        if conn is not None:
            conn.close()

    # ------------------------------------------------------------------ listening

    def listen(
        self,
        on_payload: Callable[[str], None],
        on_connected: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        """Deliver every notification on the channel to ``on_payload`` until
        ``stop`` is set. After each (re)connection ``on_connected`` runs:
        notifications sent while it was away are lost, so the caller
        catches up from the tables."""
        driver = self._driver
        while not stop.is_set():
            conn: psycopg.Connection[tuple[Any, ...]] | None = None
            try:
                conn = driver.connect(self._dsn, autocommit=True, application_name="studio-listen")
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                on_connected()
                while not stop.is_set():
                    for notify in conn.notifies(timeout=LISTEN_POLL):
                        on_payload(notify.payload)
            except driver.Error:
                stop.wait(LISTEN_POLL)  # the database is away: try again
            finally:
                if conn is not None:
                    conn.close()


def _node(r: tuple[Any, ...]) -> NodeRow:
    return NodeRow(
        node_id=str(r[0]),
        address=str(r[1]),
        pid=int(r[2]),
        host=str(r[3]),
        started=float(r[4]),
        heartbeat=float(r[5]),
        connections=int(r[6]),
        sessions=int(r[7]),
        realms=int(r[8]),
        subscribers=int(r[9]),
        version=str(r[10]),
    )
