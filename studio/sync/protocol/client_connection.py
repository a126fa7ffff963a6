"""The client side of the sync protocol, sans I/O (in the style of h11/wsproto).

Bytes in (:meth:`ClientConnection.receive_data`), events out; calls in
(:meth:`bind`, :meth:`commit`, ...), bytes out (:meth:`data_to_send` or
:meth:`frames_to_send`). No sockets, no clock: the caller passes ``now_ms``
where time matters.

One :class:`ClientConnection` lives as long as one network connection. The
per-realm sync state lives in a :class:`~studio.sync.client_history.ClientHistory`
the caller owns and persists; after a reconnect the caller makes a new
connection and binds the same histories again, and every unacknowledged
changeset is uploaded again (the server skips what it already has). On one
connection every changeset is uploaded once, even when a download rebased it
while it was in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from studio.primitives.instructions import Changeset
from studio.sync.client_history import ClientHistory
from studio.sync.errors import LocalProtocolError, MergeError, RemoteProtocolError
from studio.sync.protocol.codec import (
    DEFAULT_MAX_MESSAGE_SIZE,
    SERVER_MESSAGE_TYPES,
    MessageReader,
    decode_server_message,
    encode_message,
)
from studio.sync.protocol.events import (
    Bound,
    ClientEvent,
    ConnectionFailed,
    DownloadProgressed,
    MarkReached,
    PongReceived,
    RemoteChanges,
    SessionError,
    SessionUnbound,
    UploadAcknowledged,
)
from studio.sync.protocol.messages import (
    Bind,
    ClientMessage,
    Cursors,
    Download,
    Error,
    ErrorCode,
    Ident,
    Mark,
    Message,
    Ping,
    Pong,
    Unbind,
    Unbound,
    Upload,
    UploadProgress,
)
from studio.sync.protocol.states import (
    CLIENT_TRANSITIONS,
    ConnectionState,
    SessionEvent,
    SessionState,
    next_state,
)

DEFAULT_MAX_UPLOAD_CHANGESETS: Final = 100

E = SessionEvent


@dataclass(slots=True)
class _Session:
    session: int
    path: str
    history: ClientHistory
    state: SessionState
    sent_client_version: int = 0
    """Highest client version uploaded on this connection."""


class ClientConnection:
    """Client protocol state for one connection, multiplexing realm sessions."""

    def __init__(
        self,
        *,
        max_upload_changesets: int = DEFAULT_MAX_UPLOAD_CHANGESETS,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.state = ConnectionState.OPEN
        self._max_upload = max_upload_changesets
        self._sessions: dict[int, _Session] = {}
        self._retired: set[int] = set()
        self._marks: dict[int, set[int]] = {}
        self._out: list[bytes] = []
        self._reader = MessageReader(SERVER_MESSAGE_TYPES, max_message_size)

    # ------------------------------------------------------------------ output

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, as one byte string (stream transports)."""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def frames_to_send(self) -> list[bytes]:
        """Everything queued for the peer, one message per item (websocket frames)."""
        frames, self._out = self._out, []
        return frames

    # ------------------------------------------------------------------ queries

    def session_state(self, session: int) -> SessionState:
        s = self._sessions.get(session)
        return s.state if s is not None else SessionState.UNBOUND

    def history(self, session: int) -> ClientHistory:
        return self._session(session).history

    # ------------------------------------------------------------------ our side

    def send(self, message: ClientMessage) -> None:
        """Send one message, checking it against the session state machine.

        This is the low-level door; :meth:`bind`, :meth:`commit`,
        :meth:`mark`, :meth:`unbind` and :meth:`ping` use it and keep the
        upload bookkeeping. A :class:`Bind` must go through :meth:`bind`,
        which needs the realm's history.
        """
        self._check_open()
        if isinstance(message, Ping):
            self._emit(message)
            return
        if isinstance(message, Bind):
            raise LocalProtocolError("bind a session with ClientConnection.bind(), not send()")
        s = self._session(message.session)
        if isinstance(message, Upload):
            s.state = next_state(CLIENT_TRANSITIONS, s.state, E.SEND_UPLOAD, s.session)
            if message.changesets:
                s.sent_client_version = max(
                    s.sent_client_version, message.changesets[-1].client_version
                )
        elif isinstance(message, Mark):
            s.state = next_state(CLIENT_TRANSITIONS, s.state, E.SEND_MARK, s.session)
            self._marks.setdefault(s.session, set()).add(message.request_id)
        else:
            s.state = next_state(CLIENT_TRANSITIONS, s.state, E.SEND_UNBIND, s.session)
        self._emit(message)

    def bind(self, session: int, path: str, token: str, history: ClientHistory) -> None:
        """Start syncing the realm at ``path`` (its sync state in ``history``)
        as ``session``, a number not used before on this connection."""
        self._check_open()
        if session < 1:
            raise LocalProtocolError(f"session ids start at 1, got {session}")
        if session in self._sessions or session in self._retired:
            raise LocalProtocolError(f"session {session} was already used on this connection")
        for other in self._sessions.values():
            if other.path == path or other.history is history:
                raise LocalProtocolError(f"{path} is already bound as session {other.session}")
        state = next_state(CLIENT_TRANSITIONS, SessionState.UNBOUND, E.SEND_BIND, session)
        self._sessions[session] = _Session(session, path, history, state)
        cursors = Cursors(history.last_integrated_server_version, history.last_acked_client_version)
        self._emit(
            Bind(
                session, path, token, history.client_file_ident, cursors, history.client_file_salt
            )
        )

    def commit(self, session: int, changeset: Changeset) -> Changeset:
        """Record a local write transaction in the session's history and
        upload it when the session is bound (otherwise on the next bind)."""
        s = self._session(session)
        queued = s.history.add_local(changeset)
        self._upload(s)
        return queued

    def upload_pending(self, session: int | None = None) -> None:
        """Upload changesets added to the histories directly (add_local)."""
        for s in [self._session(session)] if session is not None else list(self._sessions.values()):
            self._upload(s)

    def mark(self, session: int, request_id: int) -> None:
        self.send(Mark(session, request_id))

    def unbind(self, session: int) -> None:
        self.send(Unbind(session))

    def ping(self, now_ms: int) -> None:
        self.send(Ping(now_ms))

    def connection_lost(self) -> None:
        """The transport is gone. Histories keep everything; bind them again
        on a new connection to resume."""
        self.state = ConnectionState.CLOSED

    # ------------------------------------------------------------------ their side

    def receive_data(self, data: bytes, *, now_ms: int | None = None) -> list[ClientEvent]:
        """Feed bytes from a stream transport; returns the resulting events.

        Raises :class:`RemoteProtocolError` (and closes the connection) when
        the server sent something invalid.
        """
        self._check_open()
        events: list[ClientEvent] = []
        try:
            for message in self._reader.feed(data):
                events.extend(self._handle(message, now_ms))
        except RemoteProtocolError:
            self.state = ConnectionState.CLOSED
            raise
        return events

    def receive_message(self, frame: bytes, *, now_ms: int | None = None) -> list[ClientEvent]:
        """Feed one complete message (a websocket frame); strict about trailing bytes."""
        self._check_open()
        try:
            return self._handle(decode_server_message(frame), now_ms)
        except RemoteProtocolError:
            self.state = ConnectionState.CLOSED
            raise

    def _handle(self, message: Message, now_ms: int | None) -> list[ClientEvent]:
        if isinstance(message, Pong):
            rtt = None if now_ms is None else now_ms - message.timestamp
            return [PongReceived(message.timestamp, rtt)]
        if isinstance(message, Error):
            return self._handle_error(message)
        assert isinstance(message, Ident | Download | Mark | Unbound)  # the codec's promise
        s = self._sessions.get(message.session)
        if s is None:
            kind = type(message).__name__.lower()
            raise RemoteProtocolError(
                f"the server sent {kind} for unknown session {message.session}",
                code=int(ErrorCode.BAD_SESSION_IDENT),
            )
        if isinstance(message, Ident):
            return self._handle_ident(s, message)
        if isinstance(message, Download):
            return self._handle_download(s, message)
        if isinstance(message, Mark):
            s.state = next_state(CLIENT_TRANSITIONS, s.state, E.RECV_MARK, s.session)
            pending = self._marks.get(s.session, set())
            if message.request_id not in pending:
                raise RemoteProtocolError(
                    f"session {s.session}: mark {message.request_id} was never requested",
                    code=int(ErrorCode.BAD_MESSAGE_ORDER),
                )
            pending.discard(message.request_id)
            if s.state is not SessionState.BOUND:
                return []
            return [MarkReached(s.session, message.request_id)]
        s.state = next_state(CLIENT_TRANSITIONS, s.state, E.RECV_UNBOUND, s.session)
        del self._sessions[s.session]
        self._marks.pop(s.session, None)
        self._retired.add(s.session)
        return [SessionUnbound(s.session)]

    def _handle_error(self, message: Error) -> list[ClientEvent]:
        if message.session is None:
            self.state = ConnectionState.CLOSED
            return [ConnectionFailed(message.code, message.message, message.try_again)]
        s = self._sessions.get(message.session)
        if s is None:
            raise RemoteProtocolError(
                f"the server sent an error for unknown session {message.session}",
                code=int(ErrorCode.BAD_SESSION_IDENT),
            )
        before = s.state
        s.state = next_state(CLIENT_TRANSITIONS, s.state, E.RECV_ERROR, s.session)
        if before is SessionState.UNBINDING:
            return []  # we are leaving anyway
        return [SessionError(s.session, message.code, message.message, message.try_again)]

    def _handle_ident(self, s: _Session, message: Ident) -> list[ClientEvent]:
        s.state = next_state(CLIENT_TRANSITIONS, s.state, E.RECV_IDENT, s.session)
        history = s.history
        if history.client_file_ident not in (0, message.client_file_ident):
            raise RemoteProtocolError(
                f"session {s.session}: the server assigned client file ident "
                f"{message.client_file_ident}, but this realm is {history.client_file_ident}",
                code=int(ErrorCode.BAD_CLIENT_FILE_IDENT),
            )
        salt = message.client_file_salt
        if salt and history.client_file_salt not in (0, salt):
            raise RemoteProtocolError(
                f"session {s.session}: the server sent another salt for client file ident "
                f"{message.client_file_ident} than the one this realm file holds",
                code=int(ErrorCode.BAD_CLIENT_FILE_IDENT),
            )
        history.set_file_ident(message.client_file_ident)
        if salt:
            # Kept with the ident (the caller persists both on Bound) and
            # sent with every later bind.
            history.client_file_salt = salt
        if s.state is not SessionState.BOUND:
            return []
        # Nothing is in flight on a new connection: resend every unacknowledged
        # changeset (the server skips those it integrated before we lost it).
        s.sent_client_version = history.last_acked_client_version
        self._upload(s)
        return [Bound(s.session, message.client_file_ident)]

    def _handle_download(self, s: _Session, message: Download) -> list[ClientEvent]:
        s.state = next_state(CLIENT_TRANSITIONS, s.state, E.RECV_DOWNLOAD, s.session)
        if s.state is not SessionState.BOUND:
            # Unbinding or failed: the history stays where it was; a later bind
            # downloads this again.
            return []
        history = s.history
        acked_before = history.last_acked_client_version
        try:
            changes = history.integrate_download(
                message.changesets, message.progress.server_version, message.upload_ack
            )
        except MergeError as exc:
            # Our unacknowledged schema changes contradict the server's: this
            # realm cannot sync until it is reset. The connection is fine.
            s.state = next_state(CLIENT_TRANSITIONS, s.state, E.FAIL, s.session)
            return [SessionError(s.session, exc.code, exc.message, False)]
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"session {s.session}: {exc}", code=exc.code) from None
        events: list[ClientEvent] = []
        if changes:
            events.append(RemoteChanges(s.session, tuple(changes), message.progress.server_version))
        if history.last_acked_client_version > acked_before:
            events.append(UploadAcknowledged(s.session, history.last_acked_client_version))
        events.append(
            DownloadProgressed(
                s.session,
                message.progress.server_version,
                message.progress.server_version == message.progress.latest_server_version,
            )
        )
        return events

    # ------------------------------------------------------------------ helpers

    def _upload(self, s: _Session) -> None:
        if s.state is not SessionState.BOUND or self.state is not ConnectionState.OPEN:
            return
        history = s.history
        new = history.unacknowledged_since(s.sent_client_version)
        if not new:
            return
        # Only what this connection has not sent yet, also after a download
        # rebased changesets in flight: the server keeps its own copy of them
        # and rebases it the same way (ServerConnection), so it needs no resend.
        base = history.last_integrated_server_version
        for start in range(0, len(new), self._max_upload):
            chunk = tuple(new[start : start + self._max_upload])
            self.send(Upload(s.session, chunk, UploadProgress(chunk[-1].client_version, base)))

    def _session(self, session: int) -> _Session:
        s = self._sessions.get(session)
        if s is None:
            raise LocalProtocolError(f"session {session} is not bound on this connection")
        return s

    def _check_open(self) -> None:
        if self.state is not ConnectionState.OPEN:
            raise LocalProtocolError("the connection is closed")

    def _emit(self, message: Message) -> None:
        self._out.append(encode_message(message))
