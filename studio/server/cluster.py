"""Several server processes on one PostgreSQL ``--store`` (docs/server.md
"Several processes"). Each process keeps its own in-memory histories of the
realms its clients use; the database is the one truth, and this module keeps
the histories following it:

* **One integrator per realm at a time.** Before an upload reaches a
  realm's history, the process takes the realm's lease (an advisory lock,
  postgres_cluster.py) and loads what other processes stored meanwhile.
  It keeps the lease while nobody else asks for it (a refused process
  says it waits); asked, it ends its turn after :data:`LEASE_SLICE`
  seconds of holding it and gives the lease up once what it integrated
  is stored (so a busy process does not starve the others). Appends still check the version
  (postgres_realm.py): should two processes ever integrate at once, the
  one that loses gets VersionConflict, drops the realm and its clients
  reconnect and re-upload (context.py).
* **Downloads across processes.** Every append NOTIFYs the realm's new
  version; a process with that realm loaded loads the new rows into its
  history (only while it has nothing unstored of its own there) and its
  clients download them. A heartbeat every :data:`HEARTBEAT` seconds also
  compares each loaded realm's version with the table, which bounds the
  delay when a notification is lost (the listener reconnecting).
* **Client file idents** are allocated in the database (never twice).
* **Nodes and events.** Each process refreshes its ``studio_nodes`` row
  (``GET /admin/nodes``), and forwards its admin events (all but the
  per-process ``counters``) to the others while anyone listens anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from studio.primitives.waiting import wait_event
from studio.server.logs import log
from studio.server.realms import LoadedRealm, replay
from studio.server.storage.base import ClientIdent
from studio.server.storage.cluster_messages import (
    AccessChanged,
    ClusterMessage,
    ForwardedEvents,
    LeaseReleased,
    LeaseWanted,
    ListenerCount,
    RealmDeleted,
    VersionStored,
    encode_message,
    pack_events,
    parse_message,
)
from studio.server.storage.errors import ClusterPayloadError, StorageError
from studio.server.storage.postgres_cluster import ClusterLink, NodeRow
from studio.server.storage.postgres_realm import PostgresRealmStorage

if TYPE_CHECKING:
    from studio.server.context import ServerContext

_T = TypeVar("_T")

HEARTBEAT: Final = 1.0
"""Seconds between a process's heartbeats (and its check for missed versions)."""
NODE_STALE: Final = 5.0
"""A process whose heartbeat is older than this is shown as not alive."""
NODE_FORGET: Final = 3600.0
"""A process silent for this long is dropped from the nodes table."""
LEASE_RETRY: Final = 0.05
"""Seconds a process waiting for a realm's lease waits before trying again
when no release notification came (its holder died, or the notification
was lost)."""
LEASE_SLICE: Final = 0.05
"""Seconds a process keeps integrating into a realm before it lets others
have a turn."""
EVENT_FLUSH: Final = 0.02
"""Seconds admin events wait to be forwarded together."""
CATCH_UP_BATCH: Final = 5000
"""Versions loaded per query when catching up."""


@dataclass(slots=True)
class _Lease:
    realm_id: int
    held: bool = False
    generation: int = 0
    """The control connection it was taken on (a lost connection lost it)."""
    since: float = 0.0
    users: int = 0
    """Uploads being integrated under the lease right now."""
    seq: int = 0
    """The commit sequence number to be stored before the lease can go."""
    draining: bool = False
    """Held long enough: new uploads wait for the next turn."""
    acquiring: asyncio.Task[None] | None = None
    releasing: asyncio.Task[None] | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a release is heard of (ours, or another process's)."""


def shared_store(realm: LoadedRealm) -> PostgresRealmStorage:
    store = realm.store
    if not isinstance(store, PostgresRealmStorage):
        raise StorageError(f"realm {realm.path} is not in a shared (PostgreSQL) store")
    return store


class Cluster:
    def __init__(self, ctx: ServerContext, link: ClusterLink) -> None:
        self._ctx = ctx
        self._link = link
        self.node = link.node
        # The control connection is used by one thread: this one.
        self._control = ThreadPoolExecutor(1, thread_name_prefix="studio-cluster")
        self._leases: dict[int, _Lease] = {}
        self._paths: dict[int, str] = {}
        """Realm id -> path, for the realms this process has used."""
        self._catching: dict[str, asyncio.Lock] = {}
        self._catch_tasks: set[asyncio.Task[None]] = set()
        self._remote_listeners: dict[str, int] = {}
        """Node -> admin event subscribers there (its heartbeat, or a notification)."""
        self._outbox: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.address = ""
        self.started = time.time()
        self.catch_ups = 0
        """Versions loaded from other processes (for tests and metrics)."""

    def _call(self, fn: Callable[..., _T], /, *args: Any) -> asyncio.Future[_T]:
        if self._stop.is_set():
            raise StorageError("this server process is leaving the cluster")
        return asyncio.get_running_loop().run_in_executor(self._control, fn, *args)

    # ------------------------------------------------------------------ start and stop

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        connected = asyncio.Event()

        def on_connected() -> None:
            loop.call_soon_threadsafe(self._on_listening, connected)

        def on_payload(payload: str) -> None:
            loop.call_soon_threadsafe(self._on_payload, payload)

        self._listener = threading.Thread(
            target=self._link.listen,
            args=(on_payload, on_connected, self._stop),
            name="studio-listen",
            daemon=True,
        )
        self._listener.start()
        try:
            await self._call(self._link.heartbeat, self._row())
            # Listening before serving: no commit of another process is missed.
            await wait_event(connected, 10)
        except BaseException:
            self._stop.set()  # the listener thread ends too
            raise
        bus = self._ctx.bus
        bus.forward, bus.node, bus.on_subscribers_changed = (
            self._forward,
            self.node,
            self.listeners_changed,
        )
        self._tasks = [
            loop.create_task(self._heartbeats(), name="cluster heartbeat"),
            loop.create_task(self._send_events(), name="cluster events"),
        ]

    async def announce(self, address: str) -> None:
        """The process listens at ``address`` now: its row says so at once."""
        self.address = address
        await self._call(self._link.heartbeat, self._row())
        log(20, "cluster_joined", node=self.node, address=address)

    async def stop(self) -> None:
        bus = self._ctx.bus
        bus.forward = bus.on_subscribers_changed = None
        tasks = [*self._tasks, *self._catch_tasks]
        for lease in self._leases.values():
            tasks += [t for t in (lease.acquiring, lease.releasing) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Leaving drops every lease with the control connection.
        await asyncio.get_running_loop().run_in_executor(self._control, self._link.leave)
        self._stop.set()
        self._control.shutdown(wait=True)
        if self._listener is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._listener.join, 5)

    def _row(self) -> NodeRow:
        return node_row(self._ctx, self.node, self.address, self.started)

    # ------------------------------------------------------------------ leases

    def _lease(self, realm: LoadedRealm) -> _Lease:
        realm_id = shared_store(realm).realm_id
        self._paths[realm_id] = realm.path
        lease = self._leases.get(realm_id)
        if lease is None:
            lease = self._leases[realm_id] = _Lease(realm_id)
        return lease

    async def hold(self, realm: LoadedRealm) -> None:
        """Return once this process may integrate uploads into ``realm``
        (and its history has every version stored before); pair with
        :meth:`done`."""
        lease = self._lease(realm)
        loop = asyncio.get_running_loop()
        while True:
            if lease.held and lease.generation != self._link.lost_leases:
                # The control connection broke: PostgreSQL dropped the lock.
                lease.held = lease.draining = False
            if lease.held and lease.draining:
                lease.released.clear()
                await lease.released.wait()
                continue
            if lease.held:
                break
            if lease.acquiring is None or lease.acquiring.done():
                lease.acquiring = loop.create_task(self._acquire(realm, lease))
            await asyncio.shield(lease.acquiring)
        lease.users += 1

    def done(self, realm: LoadedRealm, seq: int) -> None:
        """An upload under the lease was integrated; what it changed is
        stored with commit ``seq``."""
        lease = self._lease(realm)
        lease.users = max(0, lease.users - 1)
        lease.seq = max(lease.seq, seq)
        if lease.draining:
            self._kick_release(lease)

    def _wanted(self, lease: _Lease) -> None:
        """Another process waits for the lease: this process ends its turn
        (after :data:`LEASE_SLICE` of it), and gives the lease up once what
        it integrated is stored. Nobody waiting, it keeps the lease: its
        history is then up to date without asking the database."""
        if not lease.held or lease.draining:
            return
        loop = asyncio.get_running_loop()
        left = LEASE_SLICE - (loop.time() - lease.since)
        if left > 0:
            loop.call_later(left, self._wanted, lease)
            return
        lease.draining = True  # uploads from now on wait for the next turn
        self._kick_release(lease)

    def _kick_release(self, lease: _Lease) -> None:
        if lease.users == 0 and (lease.releasing is None or lease.releasing.done()):
            lease.releasing = asyncio.get_running_loop().create_task(self._release(lease))

    async def _acquire(self, realm: LoadedRealm, lease: _Lease) -> None:
        loop = asyncio.get_running_loop()
        while True:
            lease.released.clear()
            try:
                # (a refusal tells the holder that we wait)
                got = await self._call(self._link.try_lease, lease.realm_id)
            except StorageError as exc:
                log(40, "lease_failed", realm=realm.path, error=str(exc))
                got = False
            if got:
                lease.generation = self._link.lost_leases
                try:
                    await self.catch_up(realm)
                except StorageError as exc:
                    # The version check of the append still guards the history.
                    log(40, "catch_up_failed", realm=realm.path, error=str(exc))
                lease.held, lease.draining, lease.since = True, False, loop.time()
                return
            await wait_event(lease.released, LEASE_RETRY)

    async def _release(self, lease: _Lease) -> None:
        committer = self._ctx.committer
        while True:
            seq = lease.seq
            await committer.wait(seq)
            if lease.users:
                return  # in use again: its last done() releases
            if lease.seq == seq:
                break
        lease.held = lease.draining = False
        try:
            await self._call(self._link.release_lease, lease.realm_id)
        except StorageError as exc:
            log(30, "lease_release_failed", realm=self._paths.get(lease.realm_id), error=str(exc))
        lease.released.set()  # our own uploads waiting for the next turn

    # ------------------------------------------------------------------ catching up

    async def catch_up(self, realm: LoadedRealm, *, idents: bool = True) -> None:
        """Load what other processes stored into ``realm``: the client file
        idents they issued, and the versions they stored (unless this process
        has versions of its own that are not stored yet: then nothing else
        can have been stored, or the append will find the conflict)."""
        lock = self._catching.setdefault(realm.path, asyncio.Lock())
        ctx = self._ctx
        async with lock:
            store = shared_store(realm)
            self._paths[store.realm_id] = realm.path
            if idents:  # (a bind needs them; replaying versions does not)
                above = max(realm.idents, default=0)
                for record in await ctx.run(store.read_idents, above):
                    self._know_ident(realm, record)
            loaded = 0
            while not realm.failed:
                since = realm.history.latest_version
                if since != realm.durable_version:
                    break
                rows = await ctx.run(store.read_history, since, CATCH_UP_BATCH)
                if not rows or realm.history.latest_version != since or realm.failed:
                    break
                replay(realm.history, rows)
                realm.durable_version = realm.history.latest_version
                loaded += len(rows)
                if len(rows) < CATCH_UP_BATCH:
                    break
            if loaded:
                self.catch_ups += loaded
                ctx.realm_stored(realm)
                ctx.hub.schedule_state(realm)

    @staticmethod
    def _know_ident(realm: LoadedRealm, record: ClientIdent) -> None:
        realm.idents.setdefault(record.ident, record)
        realm.history.add_file_ident(record.ident)

    async def new_ident(self, realm: LoadedRealm, record: ClientIdent) -> int:
        """Allocate a client file ident in the store for ``record``'s owner
        and salt (stored at once, so the ``ident`` message need not wait for
        a commit); the realm's history knows it afterwards."""
        ident = await self._ctx.run(
            shared_store(realm).allocate_ident, record.user, record.user_id, record.salt or 0
        )
        self._know_ident(realm, ClientIdent(ident, record.user, record.user_id, record.salt))
        return ident

    def _schedule_catch_up(self, path: str) -> None:
        realm = self._ctx.hub.get(path)
        if realm is None or realm.failed:
            return
        task = asyncio.get_running_loop().create_task(self._catch_up_logged(realm))
        self._catch_tasks.add(task)
        task.add_done_callback(self._catch_tasks.discard)

    async def _catch_up_logged(self, realm: LoadedRealm) -> None:
        try:
            await self.catch_up(realm, idents=False)
        except StorageError as exc:
            log(40, "catch_up_failed", realm=realm.path, error=str(exc))

    # ------------------------------------------------------------------ notifications

    def _on_listening(self, connected: asyncio.Event) -> None:
        reconnected = connected.is_set()
        connected.set()
        # Whatever was notified while the listener was away.
        for realm in self._ctx.hub.loaded():
            self._schedule_catch_up(realm.path)
        if reconnected:
            self._background(self._recheck_everything())

    def _on_payload(self, payload: str) -> None:
        try:
            message = parse_message(payload)
        except ClusterPayloadError as exc:
            log(30, "cluster_payload_ignored", payload=payload[:200], error=str(exc))
            return
        if message.node == self.node:
            return
        match message:
            case VersionStored(_, realm_id, version):
                path = self._paths.get(realm_id)
                realm = self._ctx.hub.get(path) if path is not None else None
                if realm is not None and realm.durable_version < version:
                    self._schedule_catch_up(realm.path)
            case LeaseReleased(_, realm_id):
                lease = self._leases.get(realm_id)
                if lease is not None:
                    lease.released.set()
            case LeaseWanted(_, realm_id):
                lease = self._leases.get(realm_id)
                if lease is not None:
                    self._wanted(lease)
            case ListenerCount(node, count):
                self._remote_listeners[node] = count
                self._update_forwarding()
            case ForwardedEvents(node, events):
                for event in events:
                    self._ctx.bus.deliver({**event, "node": node})
            case AccessChanged(_, path, user):
                self._background(self._ctx.recheck_sessions(path=path, user=user))
            case RealmDeleted(_, path):
                self._background(
                    self._ctx.drop_realm(path, f"realm {path} was deleted by an admin")
                )

    def tell(self, message: ClusterMessage) -> None:
        """Send ``message`` to the other processes (not waited for: they act
        on it when it arrives; a failure to send is logged)."""
        try:
            sent = self._call(self._link.publish, [encode_message(message)])
        except StorageError:
            return  # leaving the cluster: nobody to tell
        sent.add_done_callback(_log_failure)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._logged(work))
        self._catch_tasks.add(task)
        task.add_done_callback(self._catch_tasks.discard)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except StorageError as exc:
            log(40, "cluster_message_failed", error=str(exc))

    async def _recheck_everything(self) -> None:
        """After the listener was away: permissions, users and realms may have
        changed without this process hearing of it."""
        await self._ctx.recheck_sessions()
        for realm in list(self._ctx.hub.loaded()):
            if await self._ctx.run(self._ctx.storage.get_realm, realm.path) is None:
                await self._ctx.drop_realm(realm.path, f"realm {realm.path} was deleted")

    # ------------------------------------------------------------------ admin events

    def listeners_changed(self) -> None:
        """This process's admin subscriber count changed: tell the others,
        so that they forward their events (or stop)."""
        count = self._ctx.bus.subscriber_count
        sent = self._call(self._link.publish, [encode_message(ListenerCount(self.node, count))])
        sent.add_done_callback(_log_failure)

    def _update_forwarding(self) -> None:
        self._ctx.bus.remote_listeners = sum(self._remote_listeners.values())

    def _forward(self, event: dict[str, Any]) -> None:
        if event["type"] != "counters":  # per process: /admin/nodes has the totals
            self._outbox.append(event)

    async def _send_events(self) -> None:
        while True:
            await asyncio.sleep(EVENT_FLUSH)
            if not self._outbox:
                continue
            events, self._outbox = self._outbox, []
            payloads = pack_events(self.node, events)
            try:
                await self._call(self._link.publish, payloads)
            except StorageError as exc:
                log(30, "events_not_forwarded", events=len(events), error=str(exc))

    # ------------------------------------------------------------------ heartbeat

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._beat()
            except StorageError as exc:
                log(30, "heartbeat_failed", error=str(exc))

    async def _beat(self) -> None:
        await self._call(self._link.heartbeat, self._row())
        now = time.time()
        nodes = await self._call(self._link.nodes, now - NODE_FORGET)
        self._remote_listeners = {
            n.node_id: n.subscribers
            for n in nodes
            if n.node_id != self.node and now - n.heartbeat < NODE_STALE
        }
        self._update_forwarding()
        loaded = {shared_store(r).realm_id: r for r in self._ctx.hub.loaded()}
        stored = await self._call(self._link.latest_versions, loaded)
        for realm_id, version in stored.items():
            realm = loaded[realm_id]
            if realm.durable_version < version and self._ctx.hub.get(realm.path) is realm:
                self._schedule_catch_up(realm.path)

    async def nodes(self) -> list[dict[str, Any]]:
        """Every server process sharing the store, for ``GET /admin/nodes``."""
        await self._call(self._link.heartbeat, self._row())
        now = time.time()
        rows = await self._call(self._link.nodes, now - NODE_FORGET)
        return [node_view(r, now, this=r.node_id == self.node) for r in rows]


def node_row(ctx: ServerContext, node: str, address: str, started: float) -> NodeRow:
    """What this process's heartbeat says about it."""
    return NodeRow(
        node_id=node,
        address=address,
        pid=os.getpid(),
        host=socket.gethostname(),
        started=started,
        heartbeat=time.time(),
        connections=len(ctx.connections),
        sessions=ctx.session_count(),
        realms=len(ctx.hub),
        subscribers=ctx.bus.subscriber_count,
        version=ctx.version,
    )


def standalone_row(ctx: ServerContext) -> NodeRow:
    """The one process of a server without a shared store."""
    return node_row(ctx, "standalone", ctx.address, ctx.started)


def _log_failure(future: asyncio.Future[None]) -> None:
    exc = future.exception() if not future.cancelled() else None
    if exc is not None:
        log(30, "cluster_notify_failed", error=str(exc))


def node_view(row: NodeRow, now: float, *, this: bool) -> dict[str, Any]:
    return {
        "node": row.node_id,
        "address": row.address,
        "host": row.host,
        "pid": row.pid,
        "version": row.version,
        "started": row.started,
        "uptime": round(max(0.0, now - row.started), 1),
        "heartbeat_age": round(max(0.0, now - row.heartbeat), 1),
        "alive": now - row.heartbeat < NODE_STALE,
        "connections": row.connections,
        "sessions": row.sessions,
        "realms": row.realms,
        "this": this,
    }
