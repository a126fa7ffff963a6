"""The one websocket an App keeps to the server's ``/sync``, shared by all its sessions.

A background task connects while any session is active, binds every active
session (each bind carries its user's access token), feeds received frames to
the sans-I/O :class:`~studio.sync.protocol.ClientConnection` and writes what
it queues. When the connection drops, the sessions keep their histories and
are bound again on the next connection, after an exponential backoff with
jitter; unacknowledged changesets are uploaded again and the server skips
those it already integrated. An App of several servers connects to the next
one after a failed or lost connection (servers.py).

Error handling, by protocol error:

* ``token_expired`` on a session: refresh the user's token, bind again.
* other retryable session errors: bind again after the session's backoff.
* errors that ask for a client reset (``client_file_expired``, a bad client
  file ident or server version, diverging histories; see
  :mod:`studio.sync.client.reset`): the session resets its realm file and
  binds again, unless its mode is ``MANUAL``.
* other non-retryable session errors (permission denied, a download that
  does not merge or apply): the session stops and reports a fatal
  :class:`SyncSessionError`; it is not retried.
* connection-level errors: reconnect with backoff when ``try_again``,
  otherwise every session on the connection stops with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection as WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import USER_AGENT
from websockets.typing import Subprotocol

from studio.sync import timeline
from studio.sync.client.config import Backoff, SyncConfig
from studio.sync.client.errors import AuthenticationError, SyncSessionError
from studio.sync.client.http import is_loopback
from studio.sync.client.servers import ServerList, SyncTargets
from studio.sync.client.session import SyncSession, SyncSessionState
from studio.sync.errors import RemoteProtocolError
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bound,
    ClientConnection,
    ClientEvent,
    ConnectionFailed,
    ConnectionState,
    DownloadProgressed,
    ErrorCode,
    MarkReached,
    PongReceived,
    SessionError,
    SessionUnbound,
)
from studio.sync.protocol import (
    SessionState as ProtocolSessionState,
)

log = logging.getLogger("studio.sync.client")

_TRANSACTION_POLL = 0.002
"""How often a frame for a realm the app holds a write transaction on (across
an ``await``) checks whether it may be applied yet."""


class AppConnection:
    """Connection management and protocol dispatch for the sessions of one App."""

    def __init__(self, servers: ServerList, config: SyncConfig) -> None:
        """``servers``: the App's servers (shared with its HTTP calls); the
        websocket goes to the current one and moves on when it fails."""
        self.config = config
        self.connected = False
        self.last_error: Exception | None = None
        self._sessions: list[SyncSession] = []
        self._ids: dict[int, SyncSession] = {}
        self._next_id = 1
        self._proto: ClientConnection | None = None
        self._ws: WebSocket | None = None
        self._outbox: list[bytes] = []
        self._outbox_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._targets = SyncTargets(
            servers, Backoff(config.reconnect_initial, config.reconnect_max)
        )

    @property
    def url(self) -> str:
        """The websocket URL of the server in use (or tried next)."""
        return self._targets.url

    # ------------------------------------------------------------------ sessions

    def add(self, session: SyncSession) -> None:
        self._sessions.append(session)
        self.activate(session)

    def remove(self, session: SyncSession) -> None:
        self.deactivate(session)
        with contextlib.suppress(ValueError):
            self._sessions.remove(session)

    def activate(self, session: SyncSession) -> None:
        """The session wants to be bound: bind it now or on the next connection."""
        if self._closed:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()
        session.on_connecting()
        self._maybe_bind(session)

    def deactivate(self, session: SyncSession) -> None:
        """Unbind the session if it is bound (paused or closed)."""
        proto, sid = self._proto, session.sid
        if proto is None or sid is None or session.unbinding:
            return
        if proto.session_state(sid) in (
            ProtocolSessionState.BINDING,
            ProtocolSessionState.BOUND,
            ProtocolSessionState.ERROR,
        ):
            session.unbinding = True
            proto.unbind(sid)
            self._flush()

    def _bound_id(self, session: SyncSession) -> int | None:
        proto, sid = self._proto, session.sid
        if proto is None or sid is None or session.unbinding:
            return None
        return sid if proto.session_state(sid) is ProtocolSessionState.BOUND else None

    def upload(self, session: SyncSession) -> None:
        """Upload new local changesets, at most ``max_uploads_in_flight``
        unacknowledged uploads at a time (the server acknowledges in order).

        The protocol sends each changeset once per connection, also when a
        download rebases it while it is in flight (the server rebases its copy
        the same way), so uploads can overlap. The window keeps a client that
        commits faster than the server acknowledges from sending one upload
        per commit: while it is full, commits pile up and go out together.
        """
        sid = self._bound_id(session)
        proto = self._proto
        if sid is None or proto is None:
            return
        history = session.history
        acked = history.last_acked_client_version
        in_flight = session.uploads_in_flight
        while in_flight and in_flight[0] <= acked:
            in_flight.pop(0)
        if len(in_flight) >= max(1, self.config.max_uploads_in_flight):
            return  # the download that acknowledges one calls us again
        if history.latest_client_version <= max(acked, session.uploaded_through):
            return
        timeline.mark("client.upload_encode", history.client_file_ident)
        proto.upload_pending(sid)
        session.uploaded_through = history.latest_client_version
        in_flight.append(session.uploaded_through)
        self._flush()
        timeline.mark("client.upload_queued", history.client_file_ident)

    def upload_window_full(self, session: SyncSession) -> bool:
        """Whether ``session`` is bound with ``max_uploads_in_flight`` uploads
        unacknowledged: a commit now cannot go out before an acknowledgement,
        and integrating that acknowledgement picks it up anyway."""
        if self._bound_id(session) is None:
            return False
        acked = session.history.last_acked_client_version
        in_flight = sum(1 for version in session.uploads_in_flight if version > acked)
        return in_flight >= max(1, self.config.max_uploads_in_flight)

    def send_mark(self, session: SyncSession, request_id: int) -> None:
        """Ask for a mark now if bound; otherwise ``on_bound`` asks again."""
        sid = self._bound_id(session)
        if sid is not None and self._proto is not None:
            self._proto.mark(sid, request_id)
            self._flush()

    def _active(self) -> list[SyncSession]:
        return [s for s in self._sessions if s.state is SyncSessionState.ACTIVE]

    def _maybe_bind(self, session: SyncSession) -> None:
        if (
            self._proto is None
            or session.state is not SyncSessionState.ACTIVE
            or session.sid is not None
            or session.binding
            or session.retry_handle is not None
            or session.resetting
            or self._path_in_use(session.path)
        ):
            return
        session.binding = True
        asyncio.get_running_loop().create_task(self._bind(session, self._proto))

    def _path_in_use(self, path: str) -> bool:
        """Another session of this path has not finished unbinding (the protocol
        binds a path once per connection; a client reset's download session and
        the session it resets take turns). Its ``unbound`` binds the waiting one."""
        return any(s.path == path for s in self._ids.values())

    async def _bind(self, session: SyncSession, proto: ClientConnection) -> None:
        try:
            if session.force_refresh:
                await session.user.refresh()
                session.force_refresh = False
            token = await session.user.access_token_for_use()
        except AuthenticationError as exc:  # the refresh token is no good: log in again
            session.binding = False
            code = int(ErrorCode.BAD_AUTHENTICATION)
            session.on_error(SyncSessionError(code, str(exc), fatal=True))
            return
        except Exception as exc:  # the server is unreachable or failing: later
            session.binding = False
            code = int(ErrorCode.OTHER_SESSION_ERROR)
            session.on_error(SyncSessionError(code, f"cannot refresh the token: {exc}",
                                              fatal=False))  # fmt: skip
            self._retry_bind(session)
            return
        session.binding = False
        if proto is not self._proto or proto.state is not ConnectionState.OPEN:
            return  # the connection went away meanwhile; the next one binds
        if (
            session.state is not SyncSessionState.ACTIVE
            or session.sid is not None
            or session.resetting
            or self._path_in_use(session.path)
        ):
            return
        sid = self._next_id
        self._next_id += 1
        session.sid = sid
        session.unbinding = False
        self._ids[sid] = session
        session.store.pull_local(session.history)
        proto.bind(sid, session.path, token, session.history)
        self._flush()

    def _retry_bind(self, session: SyncSession) -> None:
        delay = session.retry_backoff.next_delay()
        session.schedule_retry(delay, lambda: self._maybe_bind(session))

    # ------------------------------------------------------------------ the connection task

    async def _run(self) -> None:
        while not self._closed:
            if not self._active():
                self._wake.clear()
                # Stay connected while sessions are unbinding, then idle.
                if self._ws is None:
                    await self._wake.wait()
                    continue
            url = self._targets.url
            try:
                await self._connect_and_serve(url)
            except Exception as exc:  # a bug must not kill syncing for good: log, back off
                log.exception("sync connection to %s failed", url)
                self.last_error = exc
            _raise_if_cancelling()
            if self._closed:
                return
            if not self._active():
                continue
            # The connection could not be made or was lost: the next server
            # (the same one when there is only one), after the backoff.
            delay = self._targets.failed(url)
            log.info("reconnecting to %s in %.2f s", self.url, delay)
            self._wake.clear()
            await self._sleep_unless_woken(delay)

    async def _sleep_unless_woken(self, delay: float) -> None:
        """Wait ``delay`` seconds or until ``_wake`` is set. (Not ``wait_for``:
        on Python 3.11 it can swallow a cancellation that arrives as its inner
        task finishes, and this task must end when the loop shuts down.)"""
        timer = asyncio.get_running_loop().call_later(delay, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    async def _connect_and_serve(self, url: str) -> None:
        for session in self._active():
            session.on_connecting()
        host = urllib.parse.urlsplit(url).hostname or ""
        try:
            ws = await connect(
                url,
                subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
                compression=None,
                open_timeout=self.config.connect_timeout,
                ping_interval=self.config.ping_interval,
                ping_timeout=self.config.ping_timeout,
                max_size=self.config.max_message_size,
                # loopback servers are never reached through a proxy
                proxy=None if is_loopback(host) else True,
                # A dead server must not hold up the reconnect for long.
                close_timeout=2.0,
                user_agent_header=self.config.user_agent or USER_AGENT,
            )
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self.last_error = exc
            if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403, 404):
                log.error("the server refused the sync connection: %s", exc)
            else:
                log.info("cannot connect to %s: %s", url, exc)
            return
        self._ws = ws
        self._proto = proto = ClientConnection(
            max_upload_changesets=self.config.max_upload_changesets,
            max_message_size=self.config.max_message_size,
        )
        self._next_id = 1
        self._outbox.clear()
        self.connected = True
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            for session in self._active():
                self._maybe_bind(session)
            async for frame in ws:
                if isinstance(frame, str):
                    log.error("the server sent a text frame on /sync; reconnecting")
                    break
                if not await self._receive(proto, frame):
                    break
                if not self._active() and not self._ids:
                    break  # nothing left to sync: close until a session wants to
        except ConnectionClosed as exc:
            log.info("sync connection closed: %s", exc)
        finally:
            # Everything synchronous first: an await below may be cancelled.
            self.connected = False
            if self._proto is proto:
                self._proto = None
            proto.connection_lost()
            writer.cancel()
            self._ws = None
            self._ids.clear()
            for session in self._sessions:
                session.binding = False
                session.on_disconnected()
            await _close_socket(ws, writer)

    async def _write(self, ws: WebSocket) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            frames, self._outbox = self._outbox, []
            for frame in frames:
                await ws.send(frame)
            timeline.mark("client.sent")

    def _flush(self) -> None:
        proto = self._proto
        if proto is None:
            return
        frames = proto.frames_to_send()
        if frames:
            self._outbox.extend(frames)
            self._outbox_ready.set()

    # ------------------------------------------------------------------ receiving

    async def _receive(self, proto: ClientConnection, frame: bytes) -> bool:
        """Handle one frame; False when the connection must be dropped."""
        kind, sid, latest, has_changesets = _peek(frame)
        session = self._ids.get(sid) if sid is not None else None
        ident = 0 if session is None else session.history.client_file_ident
        timeline.mark("client.frame_received", ident)
        if session is not None:
            realm = session.realm
            # Apply nothing inside a write transaction the app keeps open across an
            # await: it would join (and could roll back with) the app's transaction.
            while realm.is_in_transaction and not realm.is_closed and session.sid == sid:
                await asyncio.sleep(_TRANSACTION_POLL)
        now_ms = int(time.time() * 1000)
        try:
            if (
                kind == "download"
                and session is not None
                and sid is not None
                and not session.realm.is_closed
                and proto.session_state(sid) is ProtocolSessionState.BOUND
            ):
                events = session.store.integrate(
                    session.history,
                    lambda: proto.receive_message(frame, now_ms=now_ms),
                    acknowledgement_only=not has_changesets,
                )
            else:
                events = proto.receive_message(frame, now_ms=now_ms)
        except RemoteProtocolError as exc:
            log.error("the server sent an invalid message (%s); reconnecting", exc)
            self.last_error = exc
            return False
        except Exception as exc:
            # The download could not be applied to the realm (a bug, or a realm
            # changed behind our back): this realm cannot go on syncing.
            if session is None or sid is None:
                raise
            log.exception("applying a download to %s failed", session.realm.path)
            message = f"a download could not be applied to the local realm: {exc}"
            self._fail_session(proto, session, sid, int(ErrorCode.BAD_CHANGESET), message)
            self._flush()
            return True
        timeline.mark("client.integrated", ident)
        result = self._dispatch(proto, events, latest)
        self._flush()
        timeline.mark("client.dispatched", ident)
        return result

    def _dispatch(self, proto: ClientConnection, events: list[ClientEvent], latest: int) -> bool:
        keep = True
        downloaded: set[SyncSession] = set()
        for event in events:
            if isinstance(event, ConnectionFailed):
                keep = False
                self._connection_failed(event)
                continue
            if isinstance(event, PongReceived):
                continue
            session = self._ids.get(event.session)
            if session is None:
                continue
            if isinstance(event, Bound):
                self._targets.bound()
                # The protocol uploaded every pending changeset with the bind.
                history = session.history
                session.uploaded_through = history.latest_client_version
                session.uploads_in_flight[:] = (
                    [history.latest_client_version]
                    if history.latest_client_version > history.last_acked_client_version
                    else []
                )
                session.on_bound(event.client_file_ident)
            elif isinstance(event, DownloadProgressed):
                downloaded.add(session)
            elif isinstance(event, MarkReached):
                session.on_mark(event.request_id)
            elif isinstance(event, SessionUnbound):
                self._unbound(session, event.session)
            elif isinstance(event, SessionError):
                self._session_error(proto, session, event)
        for session in downloaded:
            session.on_download(latest)
            self.upload(session)  # the next batch, if the last one was acknowledged
        return keep

    def _unbound(self, session: SyncSession, sid: int) -> None:
        del self._ids[sid]
        if session.sid == sid:
            session.sid = None
            session.unbinding = False
        for waiting in self._active():
            if waiting.path == session.path:
                self._maybe_bind(waiting)

    def _session_error(
        self, proto: ClientConnection, session: SyncSession, e: SessionError
    ) -> None:
        fatal = not e.try_again
        if e.code == ErrorCode.TOKEN_EXPIRED:
            session.force_refresh = True  # the next bind refreshes the token first
            fatal = False
        error = SyncSessionError(e.code, e.message, fatal=fatal)
        if fatal and session.begin_client_reset(error):
            # Not fatal after all: the session resets its file and binds again.
            fatal = False
            error = SyncSessionError(e.code, e.message, fatal=False)
        session.on_error(error)
        # Leave the errored session; its Unbound lets us bind again (if still
        # active) once the retry delay is over.
        session.unbinding = True
        proto.unbind(e.session)
        if not fatal and not session.resetting:
            self._retry_bind(session)

    def _fail_session(
        self, proto: ClientConnection, session: SyncSession, sid: int, code: int, message: str
    ) -> None:
        session.on_error(SyncSessionError(code, message, fatal=True))
        if not session.unbinding and proto.session_state(sid) is not ProtocolSessionState.UNBOUND:
            session.unbinding = True
            proto.unbind(sid)

    def _connection_failed(self, event: ConnectionFailed) -> None:
        error = SyncSessionError(event.code, event.message, fatal=not event.try_again)
        self.last_error = error
        log.warning("the server closed the sync connection: %s", error)
        for session in self._active():
            session.on_error(error)

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Unbind nothing, just drop the connection (sessions are closed by the App)."""
        self._closed = True
        self._wake.set()
        task, self._task = self._task, None
        ws = self._ws
        if ws is not None:
            await ws.close()
        if task is not None:
            task.cancel()
            # asyncio.wait, not `await task` under suppress(CancelledError):
            # that would also swallow a cancellation of whoever awaits close().
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("the sync connection task failed: %r", task.exception())


def _raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to stop. A loop calls it on
    each round, so a cancellation swallowed anywhere below (a library, a
    ``wait_for`` race) still ends the task instead of looping on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _close_socket(ws: WebSocket, writer: asyncio.Task[None]) -> None:
    """Wait for the (cancelled) writer, then close the websocket; when this
    task is being cancelled, drop the socket at once instead of waiting up to
    ``close_timeout`` for a closing handshake with a server that may be gone."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        ws.transport.abort()
    await asyncio.wait([writer])
    if not writer.cancelled():
        writer.exception()  # retrieved: the connection is gone anyway
    _raise_if_cancelling()
    await ws.close()


def _peek(frame: bytes) -> tuple[str | None, int | None, int, bool]:
    """Type, session id, latest server version of a frame and whether it carries
    changesets, without decoding them (they are msgpack ``bin``): which realm must
    be locked before the protocol integrates it, and whether a download only
    acknowledges. Garbage yields Nones; the codec reports it."""
    try:
        raw: Any = msgpack.unpackb(frame, raw=False)
    except Exception:
        return None, None, 0, True
    if not isinstance(raw, dict):
        return None, None, 0, True
    kind, sid, latest = raw.get("type"), raw.get("session"), 0
    progress = raw.get("progress")
    if isinstance(progress, dict) and isinstance(progress.get("latest_server_version"), int):
        latest = progress["latest_server_version"]
    changesets = raw.get("changesets")
    return (
        kind if isinstance(kind, str) else None,
        sid if type(sid) is int else None,
        latest,
        not (isinstance(changesets, list) and not changesets),
    )
