"""The running server's shared state, handed to every HTTP route and
websocket handler: configuration, storage, accounts, loaded realms, the
commit barrier, open connections, metrics and the admin event bus."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

import studio
from studio.server.accounts import Accounts, Clock
from studio.server.compaction import Compactor
from studio.server.config import ServerConfig
from studio.server.durability import Committer
from studio.server.events import EventBus
from studio.server.limits import OutboundBudget
from studio.server.login_throttle import LoginThrottle
from studio.server.logs import log
from studio.server.metrics import Metrics
from studio.server.permissions import Level
from studio.server.realms import LoadedRealm, RealmHub
from studio.server.storage.base import ServerStorage, UserRecord
from studio.server.storage.cluster_messages import AccessChanged
from studio.server.storage.errors import VersionConflict
from studio.sync.protocol import ErrorCode

if TYPE_CHECKING:
    from studio.server.cluster import Cluster
    from studio.server.connection import SyncConnection

_T = TypeVar("_T")


class ServerContext:
    def __init__(
        self, config: ServerConfig, storage: ServerStorage, *, clock: Clock = time.time
    ) -> None:
        """``clock``: what token issue and expiry go by (tests pass a fake one)."""
        self.config = config
        self.storage = storage
        self.version = studio.__version__
        self.started = time.time()
        self.address = ""
        """The URL this process serves (set once it listens)."""
        # Storage calls block (fsync, scrypt): they run here, never on the loop.
        self._io = ThreadPoolExecutor(16, thread_name_prefix="studio-io")
        self.bus = EventBus()
        self.connections: dict[int, SyncConnection] = {}
        self.admin_sockets: set[web.WebSocketResponse] = set()
        self.outbound = OutboundBudget(config.limits.max_server_outbound_bytes)
        """Bytes queued for all sync clients together (limits.py)."""
        self.hub = RealmHub(
            storage, self.run, config.state_delay, config.idle_unload, config.max_clock_skew
        )
        self.hub.on_state_error = self._state_error
        self.metrics = Metrics(
            connections=lambda: len(self.connections),
            sessions=self.session_count,
            realms=lambda: len(self.hub),
            subscribers=lambda: self.bus.subscriber_count,
            outbound_bytes=lambda: self.outbound.queued,
        )
        self.committer = Committer(
            lambda realm, write: realm.store.append(write),
            self._commit_failed,
            self.metrics.commit,
            on_stored=self.realm_stored,
        )
        self.accounts = Accounts(config, storage, self.run, clock)
        self.compactor = Compactor(self)
        self.cluster: Cluster | None = None
        """The other server processes sharing the store (a PostgreSQL
        ``--store``; cluster.py), None for a server on its own."""
        self.login_throttle = LoginThrottle()

    def run(self, fn: Callable[..., _T], /, *args: Any) -> asyncio.Future[_T]:
        """Run a blocking call on the I/O threads."""
        return asyncio.get_running_loop().run_in_executor(self._io, functools.partial(fn, *args))

    def session_count(self) -> int:
        return sum(len(c.sessions) for c in self.connections.values())

    def close_executor(self) -> None:
        self.committer.close()
        self._io.shutdown(wait=True)

    # ------------------------------------------------------------------ reacting to changes

    def _state_error(self, path: str, error: str) -> None:
        """A realm's state file stopped following its history (admin event)."""
        self.bus.publish("state_error", realm=path, error=error)

    def realm_stored(self, realm: LoadedRealm, settled: bool = False) -> None:
        """More of ``realm``'s history is on disk: every session bound to it
        downloads it (one download per commit, however many uploads it held).
        While other commits are in flight, built at the end of this loop
        iteration (the reports of several commits handled in one iteration
        make one download); when nothing else is (``settled``), built and
        written now."""
        for conn, session in realm.bound():
            if settled:
                conn.stream_stored(session)
            else:
                conn.push_downloads(session)

    def _commit_failed(self, realm: LoadedRealm, exc: BaseException) -> None:
        """Storing a realm's changes failed: its in-memory history holds
        changesets that are not on disk. Nobody may see them: every connection
        bound to it is closed (their queued frames dropped), and the realm is
        reloaded from storage on the next bind."""
        self.hub.forget(realm)
        if isinstance(exc, VersionConflict):
            # Another server process stored versions first: the reload brings
            # them, and the clients' re-uploads are merged with them.
            why = "the realm changed on another server process; reconnect to merge again"
        else:
            why = "the server could not store changes; reconnect later"
        for conn, _session in list(realm.bound()):
            conn.abort(ErrorCode.OTHER_ERROR, why)
        asyncio.get_running_loop().create_task(self.hub.unload(realm))

    async def recheck_sessions(self, *, path: str | None = None, user: str | None = None) -> None:
        """Permissions or a user changed: re-decide every bound session of
        ``path`` and/or ``user``; sessions that lost read access end with
        ``permission_denied``, those that lost write access stop uploading."""
        users: dict[str, UserRecord | None] = {}
        for conn in list(self.connections.values()):
            for session, bound in list(conn.sessions.items()):
                if (path is not None and bound.path != path) or (
                    user is not None and bound.user != user
                ):
                    continue
                if bound.user not in users:
                    users[bound.user] = await self.run(self.storage.get_user, bound.user)
                record = users[bound.user]
                if record is None or record.suspended:
                    why = "was deleted" if record is None else "is suspended"
                    conn.fail_session(
                        session, ErrorCode.PERMISSION_DENIED, f"user {bound.user} {why}"
                    )
                    continue
                level = await self.accounts.level(record, bound.path)
                if level < Level.READ:
                    conn.fail_session(
                        session,
                        ErrorCode.PERMISSION_DENIED,
                        f"{bound.user} lost access to {bound.path}",
                    )
                else:
                    conn.set_level(session, level)
        log(10, "sessions_rechecked", realm=path, user=user)

    async def access_changed(self, *, path: str | None = None, user: str | None = None) -> None:
        """An admin changed a permission or a user: re-decide the sessions
        of this process, and tell the other server processes (cluster.py)
        to re-decide theirs."""
        await self.recheck_sessions(path=path, user=user)
        if self.cluster is not None:
            self.cluster.tell(AccessChanged(self.cluster.node, path, user))

    async def drop_realm(self, path: str, message: str) -> None:
        """The realm at ``path`` is deleted (here or on another process): end
        its sessions with ``message`` and drop what this process holds of it."""
        self.end_realm_sessions(path, message)
        self.hub.forget_state_error(path)
        await self.committer.drain()  # nothing of it may be half-written when the file goes
        loaded = self.hub.get(path)
        if loaded is not None:
            await self.hub.unload(loaded)

    def end_realm_sessions(self, path: str, message: str) -> None:
        for conn in list(self.connections.values()):
            for session, bound in list(conn.sessions.items()):
                if bound.path == path:
                    conn.fail_session(session, ErrorCode.NO_SUCH_REALM, message)
