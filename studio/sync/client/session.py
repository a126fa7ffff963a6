"""A sync session: one synced realm file bound to one server realm.

The session owns the realm's :class:`~studio.sync.client_history.ClientHistory` (its
cursors and unacknowledged changesets, persisted by
:class:`~studio.sync.client.store.RealmStore`) and the public API: state,
pause/resume, waiting for uploads and downloads, listeners. The App's shared
:class:`~studio.sync.client.connection.AppConnection` drives the protocol
and calls the ``_on_*`` methods here.

Everything runs on the event loop thread that owns the realm; local writes
never wait for the network: a commit lands in the realm's history, the realm
listener wakes the session, and the connection uploads when it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from studio.core.notify import NotificationToken
from studio.core.realm import Realm
from studio.core.watcher import RealmWatcher
from studio.sync.client.auth import User
from studio.sync.client.config import Backoff, SyncConfig
from studio.sync.client.errors import ClientResetError, SessionClosedError, SyncSessionError
from studio.sync.client.reset import (
    ClientResetConfig,
    ClientResetMode,
    ClientResetResult,
    adopt_fresh_copy,
    download_path_for,
    is_reset_error,
    make_backup,
    mark_download_complete,
    remove_realm_file,
)
from studio.sync.client.store import DownloadObserver, RealmStore
from studio.sync.client_history import ClientHistory

if TYPE_CHECKING:
    from studio.sync.client.connection import AppConnection

log = logging.getLogger("studio.sync.client")

Direction = Literal["upload", "download"]
ProgressMode = Literal["indefinitely", "current"]
ErrorCallback = Callable[["SyncSession", SyncSessionError], None]


class SyncSessionState(Enum):
    """``ACTIVE``: syncing (or trying to); ``INACTIVE``: paused or closed;
    ``INVALID``: stopped by a fatal error (see ``session.error``)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    INVALID = "invalid"


class SessionConnectionState(Enum):
    """The session's connection to the server: ``CONNECTED`` once it is bound."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class Progress:
    """Sync progress in versions (one version per changeset).

    Upload: ``transferred`` is the last local client version the server
    acknowledged, ``transferable`` the latest local one. Download:
    ``transferred`` is the server version integrated locally, ``transferable``
    the latest server version known.
    """

    direction: Direction
    transferred: int
    transferable: int

    @property
    def is_complete(self) -> bool:
        return self.transferred >= self.transferable


class _Listeners:
    """Callbacks with removal tokens; a callback that raises is logged, not propagated."""

    def __init__(self) -> None:
        self._items: list[tuple[int, Callable[..., None]]] = []
        self._next = 0

    def add(self, callback: Callable[..., None]) -> NotificationToken:
        self._next += 1
        key = self._next
        self._items.append((key, callback))
        return NotificationToken(lambda: self._remove(key))

    def _remove(self, key: int) -> None:
        self._items = [item for item in self._items if item[0] != key]

    def call(self, *args: Any) -> None:
        for _key, callback in list(self._items):
            try:
                callback(*args)
            except Exception:
                log.exception("a sync listener raised")

    def __bool__(self) -> bool:
        return bool(self._items)


class SyncSession:
    """``realm.sync_session``: the background sync of one realm."""

    def __init__(
        self,
        realm: Realm,
        user: User,
        path: str,
        connection: AppConnection,
        config: SyncConfig,
        *,
        server_url: str,
        on_error: ErrorCallback | None = None,
        client_reset: ClientResetConfig | None = None,
    ) -> None:
        self.realm = realm
        self.user = user
        self.path = path
        self.state = SyncSessionState.ACTIVE
        self.connection_state = SessionConnectionState.DISCONNECTED
        self.error: SyncSessionError | None = None
        """The fatal error that stopped the session (state ``INVALID``)."""
        self._connection = connection
        self._config = config
        self._server_url = server_url
        self.client_reset = client_reset or ClientResetConfig()
        self.resetting = False
        """True while a client reset runs (the session is not bound meanwhile)."""
        self.last_reset: ClientResetResult | None = None
        """What the last client reset of this session did."""
        self._reset_task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        self.store = RealmStore(realm, server_url, path, user.username)
        self.history: ClientHistory = self.store.load()
        self.latest_server_version = self.history.last_integrated_server_version
        # Protocol session id on the current connection (None: not bound or binding).
        self.sid: int | None = None
        self.unbinding = False
        self.binding = False
        self.force_refresh = False
        self.uploaded_through = 0
        """Local changesets up to this client version were uploaded on this binding."""
        self.uploads_in_flight: list[int] = []
        """The last client version of each upload on this binding not yet acknowledged."""
        self.retry_backoff = Backoff(config.reconnect_initial, config.reconnect_max)
        self.retry_handle: asyncio.TimerHandle | None = None
        self._next_mark = 0
        self._download_waiters: dict[int, asyncio.Future[None]] = {}
        self._upload_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._connection_listeners = _Listeners()
        self._progress_listeners: dict[Direction, _Listeners] = {
            "upload": _Listeners(),
            "download": _Listeners(),
        }
        self._error_listeners = _Listeners()
        if on_error is not None:
            self._error_listeners.add(on_error)
        self._pull_scheduled = False
        self._realm_token = realm.add_listener(self._on_realm_change)
        self._watcher: RealmWatcher | None = None
        if config.watch_files:
            self._watcher = RealmWatcher(realm, config.watch_interval)
            self._watcher.start()
        connection.add(self)

    # ------------------------------------------------------------------ public API

    @property
    def client_file_ident(self) -> int:
        """The identity the server gave this realm file (0 before the first bind)."""
        return self.history.client_file_ident

    @property
    def is_closed(self) -> bool:
        return self.state is SyncSessionState.INACTIVE and self._realm_token.removed

    def pause(self) -> None:
        """Stop syncing (unbind); local writes keep landing in the history."""
        if self.state is not SyncSessionState.ACTIVE:
            return
        self.state = SyncSessionState.INACTIVE
        self._cancel_retry()
        self._connection.deactivate(self)
        self._set_connection_state(SessionConnectionState.DISCONNECTED)

    def resume(self) -> None:
        """Start syncing again after :meth:`pause` (or retry after a fatal error)."""
        if self.is_closed or self.state is SyncSessionState.ACTIVE:
            return
        self.state = SyncSessionState.ACTIVE
        self.error = None
        self.retry_backoff.reset()
        self._connection.activate(self)

    async def wait_for_upload_completion(self, timeout: float | None = None) -> None:
        """Wait until the server has acknowledged every local commit made before this call."""
        self._check_usable()
        self.local_changes()
        target = self.history.latest_client_version
        if self.history.last_acked_client_version >= target:
            return
        future: asyncio.Future[None] = self._loop.create_future()
        self._upload_waiters.append((target, future))
        await self._wait(future, timeout)

    async def wait_for_download_completion(self, timeout: float | None = None) -> None:
        """Wait until everything the server had when it saw this request is
        integrated into the local realm (waits through reconnects)."""
        self._check_usable()
        self._next_mark += 1
        request_id = self._next_mark
        future: asyncio.Future[None] = self._loop.create_future()
        self._download_waiters[request_id] = future
        self._connection.send_mark(self, request_id)
        try:
            await self._wait(future, timeout)
        finally:
            self._download_waiters.pop(request_id, None)

    def add_connection_listener(
        self, callback: Callable[[SessionConnectionState, SessionConnectionState], None]
    ) -> NotificationToken:
        """``callback(new_state, old_state)`` whenever the connection state changes."""
        return self._connection_listeners.add(callback)

    def add_progress_listener(
        self,
        callback: Callable[[Progress], None],
        direction: Direction = "download",
        mode: ProgressMode = "indefinitely",
    ) -> NotificationToken:
        """``callback(progress)`` as uploads or downloads progress.

        ``mode="current"`` reports only the work known now and removes itself
        once that is done (it is called at once if nothing is outstanding).
        """
        if direction == "upload":
            self.local_changes()  # commits not pulled yet (a full upload window) count
        listeners = self._progress_listeners[direction]
        if mode == "indefinitely":
            return listeners.add(callback)
        goal = self._progress(direction).transferable
        token: NotificationToken

        def until_done(progress: Progress) -> None:
            callback(Progress(direction, progress.transferred, goal))
            if progress.transferred >= goal:
                token.remove()

        token = listeners.add(until_done)
        current = self._progress(direction)
        if current.transferred >= goal:
            until_done(current)
        return token

    def add_error_listener(
        self, callback: Callable[[SyncSession, SyncSessionError], None]
    ) -> NotificationToken:
        """``callback(session, error)`` for every sync error (``error.fatal``: the
        session stopped; otherwise it retries by itself)."""
        return self._error_listeners.add(callback)

    def add_download_observer(self, observer: DownloadObserver) -> NotificationToken:
        """``observer(server_version, changesets)`` for every download that brings
        changes of other clients (never this client's own changesets: those come
        back only as acknowledgements).

        It runs inside the write transaction that applies the download, *before*
        the changesets are applied, so the realm still shows the old values;
        ``server_version`` is where the realm stands once they are applied. It
        must not write to the realm. If it raises, the download is not applied
        and the session stops with a fatal error (so an observer that journals
        downloads never loses one).
        """
        observers = self.store.download_observers
        observers.append(observer)
        return NotificationToken(lambda: observers.remove(observer))

    def close(self) -> None:
        """Stop syncing for good (``realm.close()`` calls this)."""
        if self.is_closed:
            return
        self.state = SyncSessionState.INACTIVE
        self._realm_token.remove()
        self._cancel_retry()
        if self._reset_task is not None:
            self._reset_task.cancel()
        if self._watcher is not None:
            self._watcher.stop()
        self._connection.remove(self)
        self._set_connection_state(SessionConnectionState.DISCONNECTED)
        self._fail_waiters(SessionClosedError(f"the sync session of {self.path} was closed"))

    def __repr__(self) -> str:
        return f"<SyncSession {self.path} {self.state.value}/{self.connection_state.value}>"

    # ------------------------------------------------------------------ local changes

    def _on_realm_change(self, realm: Realm, changes: object = None) -> None:
        if self.store.applying or self._pull_scheduled:
            return  # our own download, or a pull is already on its way
        self._pull_scheduled = True
        self._loop.call_soon(self._scheduled_pull)

    def _scheduled_pull(self) -> None:
        self._pull_scheduled = False
        if self.is_closed or self.realm.is_closed:
            return
        if self.realm.is_in_transaction:
            # The app awaits inside a write; its rows are not committed yet.
            self._pull_scheduled = True
            self._loop.call_later(0.005, self._scheduled_pull)
            return
        if self._connection.upload_window_full(self) and not self._progress_listeners["upload"]:
            # Nothing can go out before an acknowledgement, and integrating it pulls
            # these commits first (wait_for_upload_completion and binding pull too):
            # a commit loop saves a history read per commit.
            return
        self.local_changes()

    def local_changes(self) -> None:
        """Pick up new local commits and upload them if bound."""
        if self.realm.is_closed:
            return
        if self.store.pull_local(self.history):
            self._connection.upload(self)
            self._report_progress("upload")

    # ------------------------------------------------------------------ connection callbacks

    def on_connecting(self) -> None:
        if self.state is SyncSessionState.ACTIVE:
            self._set_connection_state(SessionConnectionState.CONNECTING)

    def on_bound(self, client_file_ident: int) -> None:
        # The protocol put the salt that came with the ident in the history.
        self.store.save_ident(client_file_ident, self.history.client_file_salt)
        self.retry_backoff.reset()
        self._set_connection_state(SessionConnectionState.CONNECTED)
        for request_id in list(self._download_waiters):
            self._connection.send_mark(self, request_id)

    def on_disconnected(self) -> None:
        self.sid = None
        self.uploaded_through = 0
        self.uploads_in_flight.clear()
        self.unbinding = False
        if self.state is SyncSessionState.ACTIVE:
            self._set_connection_state(SessionConnectionState.CONNECTING)
        else:
            self._set_connection_state(SessionConnectionState.DISCONNECTED)

    def on_download(self, latest_server_version: int) -> None:
        """A download was integrated (and committed to the realm)."""
        self.latest_server_version = max(self.latest_server_version, latest_server_version)
        acked = self.history.last_acked_client_version
        done = [w for w in self._upload_waiters if w[0] <= acked]
        if done:
            self._upload_waiters = [w for w in self._upload_waiters if w[0] > acked]
            for _target, future in done:
                if not future.done():
                    future.set_result(None)
        self._report_progress("download")
        self._report_progress("upload")

    def on_mark(self, request_id: int) -> None:
        future = self._download_waiters.get(request_id)
        if future is not None and not future.done():
            future.set_result(None)

    def on_error(self, error: SyncSessionError) -> None:
        """Report an error; a fatal one stops the session."""
        if error.fatal:
            self.state = SyncSessionState.INVALID
            self.error = error
            self._cancel_retry()
            self._set_connection_state(SessionConnectionState.DISCONNECTED)
            self._fail_waiters(error)
            log.error("sync of %s stopped: %s", self.path, error)
        else:
            log.warning("sync of %s: %s (retrying)", self.path, error)
        self._error_listeners.call(self, error)

    # ------------------------------------------------------------------ client reset

    def begin_client_reset(self, error: SyncSessionError) -> bool:
        """The server asked for a client reset (``error``): start one in the
        background unless the mode is ``MANUAL`` (or one runs already).
        Returns whether the error is taken care of."""
        if (
            not is_reset_error(error.code)
            or self.client_reset.mode is ClientResetMode.MANUAL
            or self.is_closed
        ):
            return False
        if not self.resetting:
            self.resetting = True
            self._cancel_retry()
            self._reset_task = self._loop.create_task(self._client_reset(error))
        return True

    async def _client_reset(self, error: SyncSessionError) -> None:
        realm = self.realm
        config = self.client_reset
        download = download_path_for(Path(realm.path))
        log.warning("sync of %s needs a client reset: %s", self.path, error)
        try:
            if config.on_before_reset is not None:
                config.on_before_reset(realm)
            backup = await self._download_fresh_copy(download, error.code)
            # No await from here on: the backup is the file exactly as adopted.
            result = adopt_fresh_copy(realm, download, backup, config.mode, error.code)
        except asyncio.CancelledError:
            remove_realm_file(download)
            self.resetting = False
            raise
        except Exception as exc:
            remove_realm_file(download)
            self.resetting = False
            message = f"the client reset of {realm.path} failed: {exc}"
            if not isinstance(exc, ClientResetError | SyncSessionError):
                log.exception("client reset of %s failed", realm.path)
            self.on_error(SyncSessionError(error.code, message, fatal=True))
            return
        self.store.reload_into(self.history)
        self.latest_server_version = self.history.last_integrated_server_version
        self.uploaded_through = 0
        self.uploads_in_flight.clear()
        self.last_reset = result
        self.resetting = False
        self.retry_backoff.reset()
        log.warning(
            "client reset of %s done (%s): %d unsynced changesets, %d changes not recovered; "
            "backup %s",
            realm.path, result.mode.value, result.unsynced_changesets, len(result.unrecovered),
            result.backup_path,
        )  # fmt: skip
        if not self.history.pending:
            # Nothing left to upload: waits for the old local versions are over
            # (with recovered changes they end when those are acknowledged: their
            # client versions come after the old ones).
            waiters, self._upload_waiters = self._upload_waiters, []
            for _target, future in waiters:
                if not future.done():
                    future.set_result(None)
        self._report_progress("download")
        self._report_progress("upload")
        if config.on_after_reset is not None:
            try:
                config.on_after_reset(realm, result)
            except Exception:
                log.exception("on_after_reset of %s raised", realm.path)
        if self.state is SyncSessionState.ACTIVE and not self.is_closed:
            self._connection.activate(self)

    async def _download_fresh_copy(self, download: Path, code: int) -> Path:
        """Download the server's realm into ``download`` with a session of its
        own (a new client file ident); then back the realm file up and mark
        the download complete (naming the backup). Returns the backup's path.
        Local writes made during the download are in the backup and recovered."""
        remove_realm_file(download)
        fresh = Realm.open(download, record_history=True)
        try:
            session = SyncSession(
                fresh,
                self.user,
                self.path,
                self._connection,
                self._config,
                server_url=self._server_url,
                client_reset=ClientResetConfig(ClientResetMode.MANUAL),
            )
            try:
                await session.wait_for_download_completion()
            finally:
                session.close()
            backup = make_backup(self.realm)
            mark_download_complete(fresh, backup, code)
        finally:
            fresh.close()
        return backup

    # ------------------------------------------------------------------ helpers

    def schedule_retry(self, delay: float, action: Callable[[], None]) -> None:
        self._cancel_retry()
        self.retry_handle = self._loop.call_later(delay, self._run_retry, action)

    def _run_retry(self, action: Callable[[], None]) -> None:
        self.retry_handle = None
        action()

    def _cancel_retry(self) -> None:
        if self.retry_handle is not None:
            self.retry_handle.cancel()
            self.retry_handle = None

    def _check_usable(self) -> None:
        if self.is_closed:
            raise SessionClosedError(f"the sync session of {self.path} is closed")
        if self.state is SyncSessionState.INVALID and self.error is not None:
            raise self.error

    async def _wait(self, future: asyncio.Future[None], timeout: float | None) -> None:
        # asyncio.timeout, not wait_for(shield(...)): on Python 3.11 wait_for
        # can swallow the caller's cancellation when the future is set at the
        # same moment. The future is this caller's own: cancelling it is fine.
        try:
            async with asyncio.timeout(timeout):
                await future
        finally:
            if not future.done():
                future.cancel()

    def _fail_waiters(self, error: Exception) -> None:
        waiters = [f for _t, f in self._upload_waiters] + list(self._download_waiters.values())
        self._upload_waiters.clear()
        self._download_waiters.clear()
        for future in waiters:
            if not future.done():
                future.set_exception(error)
                # Nobody may be awaiting it any more (timed out): no "never retrieved" noise.
                with contextlib.suppress(BaseException):
                    future.exception()

    def _set_connection_state(self, new: SessionConnectionState) -> None:
        old = self.connection_state
        if new is not old:
            self.connection_state = new
            self._connection_listeners.call(new, old)

    def _progress(self, direction: Direction) -> Progress:
        h = self.history
        if direction == "upload":
            return Progress("upload", h.last_acked_client_version, h.latest_client_version)
        latest = max(self.latest_server_version, h.last_integrated_server_version)
        return Progress("download", h.last_integrated_server_version, latest)

    def _report_progress(self, direction: Direction) -> None:
        listeners = self._progress_listeners[direction]
        if listeners:
            listeners.call(self._progress(direction))
