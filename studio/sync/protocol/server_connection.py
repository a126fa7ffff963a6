"""The server side of the sync protocol, sans I/O.

One :class:`ServerConnection` per client connection. It validates message
order per session, integrates uploads into the realm's
:class:`~studio.sync.history.ServerHistory` (shared by all connections bound
to that realm; the caller looks it up and checks permissions on bind) and
produces downloads from it. It never reads a clock: ``now_ms`` comes from the
caller. After an upload is integrated it reports
:class:`~studio.sync.protocol.events.ChangesetsIntegrated`; the caller then
calls :meth:`ServerConnection.send_downloads` on every other connection bound
to the same realm.

Anything invalid from the client raises :class:`RemoteProtocolError` after
queueing an ``error`` message for it; the caller sends the queued bytes and
closes the connection. Errors that concern one upload (a changeset that does
not merge) end that session only and are reported as events.

A client uploads each changeset once per connection, also when a download
rebases it while it is in flight. The history needs the client's own
changesets after an upload's base as the client has them on that base, so
each session keeps a mirror of what its client has sent (a ClientHistory
fed with the same downloads the client got) and adds the rebased copies to
an upload whose base moved.

:meth:`ServerConnection.frames_to_send_described` gives each outgoing frame
with an :class:`OutgoingFrame` (for metrics and logs without decoding it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from studio.primitives.instructions import Changeset
from studio.sync.client_history import ClientHistory
from studio.sync.errors import (
    ChangesetError,
    HistoryCompactedError,
    LocalProtocolError,
    RemoteProtocolError,
)
from studio.sync.history import IntegrationResult, ServerHistory
from studio.sync.protocol.codec import (
    CLIENT_MESSAGE_TYPES,
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageReader,
    decode_client_message,
    encode_message,
)
from studio.sync.protocol.events import (
    BindRequested,
    ChangesetsIntegrated,
    ClientUnbound,
    ServerEvent,
    SessionError,
)
from studio.sync.protocol.messages import (
    Bind,
    ClientMessage,
    Cursors,
    Download,
    DownloadProgress,
    Error,
    ErrorCode,
    Ident,
    Mark,
    Message,
    Ping,
    Pong,
    ServerMessage,
    Unbind,
    Unbound,
    Upload,
)
from studio.sync.protocol.outgoing import OutgoingFrame, describe_frame
from studio.sync.protocol.server_mirror import cursor_problem, rebase_mirror
from studio.sync.protocol.spliced import EncodedChangesets
from studio.sync.protocol.states import (
    SERVER_TRANSITIONS,
    ConnectionState,
    SessionEvent,
    SessionState,
    next_state,
)

DEFAULT_MAX_DOWNLOAD_CHANGESETS: Final = 100

UploadCheck: TypeAlias = Callable[[Sequence[Changeset], int], None]
"""``check(changesets, now_ms)``: raises :class:`ChangesetError` for an upload
that must not be stored (see :mod:`studio.sync.upload_check`)."""

E = SessionEvent
S = SessionState


@dataclass(slots=True)
class _Session:
    session: int
    path: str
    token: str
    requested_ident: int
    cursors: Cursors
    state: SessionState
    history: ServerHistory | None = None
    client_file_ident: int = 0
    download_version: int = 0
    """The client has been sent everything up to this server version."""
    acked_client_version: int = 0
    """The last upload_ack sent."""
    upload_denied: str | None = None
    """Why uploads are refused (read-only session); None: uploads are allowed."""
    sent: ClientHistory | None = None
    """Mirror of the client's changesets uploaded on this connection and not
    integrated at or before its base (rebased as the client rebases them)."""
    copies_base: int = -1
    """The history holds the mirrored changesets as uploaded on this base."""
    encoded: EncodedChangesets | None = None
    """Shared encoded changesets of the realm (see accept_bind)."""
    check_upload: UploadCheck | None = None
    """Run on every upload before it reaches the history (see accept_bind)."""
    snapshot_of: int | None = None
    """The floor of the snapshot this session streams to a new client (set
    while it downloads from version 0; see ServerHistory.serves_from)."""
    marks: list[tuple[int, int]] | None = None
    """Marks not answered yet: (request id, the server version the client
    must have been sent first). Only with a download burst (see ServerConnection)."""


class ServerConnection:
    """Server protocol state for one client connection."""

    def __init__(
        self,
        *,
        max_download_changesets: int = DEFAULT_MAX_DOWNLOAD_CHANGESETS,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        download_burst: int | None = None,
    ) -> None:
        """``download_burst``: at most this many download messages per
        session each time downloads are produced (upload, mark,
        :meth:`send_downloads`; none at bind); the caller streams the rest
        by calling :meth:`send_downloads` again as its transport drains
        (:meth:`downloads_pending` says whether a session is behind). A mark
        is answered once everything before it was produced. None: everything
        at once."""
        self.state = ConnectionState.OPEN
        self._max_download = max_download_changesets
        self._burst = download_burst
        self._sessions: dict[int, _Session] = {}
        self._retired: set[int] = set()
        self._out: list[tuple[bytes, OutgoingFrame]] = []
        self._reader = MessageReader(CLIENT_MESSAGE_TYPES, max_message_size)

    # ------------------------------------------------------------------ output

    def data_to_send(self) -> bytes:
        data = b"".join(frame for frame, _ in self._out)
        self._out.clear()
        return data

    def frames_to_send(self) -> list[bytes]:
        return [frame for frame, _ in self.frames_to_send_described()]

    def frames_to_send_described(self) -> list[tuple[bytes, OutgoingFrame]]:
        """Like :meth:`frames_to_send`, each frame with what it holds."""
        frames, self._out = self._out, []
        return frames

    # ------------------------------------------------------------------ queries

    def session_state(self, session: int) -> SessionState:
        s = self._sessions.get(session)
        return s.state if s is not None else S.UNBOUND

    def bound_sessions(self) -> dict[int, str]:
        """``{session: realm path}`` of the sessions that are bound."""
        return {n: s.path for n, s in self._sessions.items() if s.state is S.BOUND}

    def client_file_ident(self, session: int) -> int:
        return self._session(session).client_file_ident

    def sent_version(self, session: int) -> int:
        """The client has been sent everything up to this server version (0 for a
        session not bound)."""
        s = self._sessions.get(session)
        return s.download_version if s is not None else 0

    def downloads_pending(self, session: int, until_version: int | None = None) -> bool:
        """Whether a bound session has not been sent everything up to
        ``until_version`` (or the latest version) yet, changesets or the
        acknowledgement of its own."""
        s = self._sessions.get(session)
        if s is None or s.state is not S.BOUND or s.history is None:
            return False
        latest = s.history.latest_version
        if until_version is not None:
            latest = min(latest, until_version)
        if s.download_version < latest:
            return True
        acked = s.history.client_version_at(s.client_file_ident, s.download_version)
        return s.acked_client_version < acked

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes, *, now_ms: int) -> list[ServerEvent]:
        """Feed bytes from a stream transport; returns the resulting events."""
        self._check_open()
        events: list[ServerEvent] = []
        try:
            for message in self._reader.feed(data):
                events.extend(self._handle(message, now_ms))
        except RemoteProtocolError as exc:
            self._fail_connection(exc)
            raise
        return events

    def receive_message(self, frame: bytes, *, now_ms: int) -> list[ServerEvent]:
        """Feed one complete message (a websocket frame)."""
        return self.receive_decoded(self.decode(frame), now_ms=now_ms)

    def decode(self, frame: bytes) -> ClientMessage:
        """Decode one complete message without handling it yet (the app may
        need to know what it is first, e.g. which realm an upload is for);
        a malformed one fails the connection as :meth:`receive_message` does."""
        self._check_open()
        try:
            return decode_client_message(frame)
        except RemoteProtocolError as exc:
            self._fail_connection(exc)
            raise

    def receive_decoded(self, message: ClientMessage, *, now_ms: int) -> list[ServerEvent]:
        """Handle a message from :meth:`decode`."""
        self._check_open()
        try:
            return self._handle(message, now_ms)
        except RemoteProtocolError as exc:
            self._fail_connection(exc)
            raise

    def upload_session(self, message: ClientMessage) -> int | None:
        """The session an upload with changesets is for (None for any other
        message): what the app must prepare before :meth:`receive_decoded`."""
        if isinstance(message, Upload) and message.changesets:
            return message.session
        return None

    def _handle(self, message: Message, now_ms: int) -> list[ServerEvent]:
        if isinstance(message, Ping):
            self._emit(Pong(message.timestamp))
            return []
        if isinstance(message, Bind):
            return self._handle_bind(message)
        assert isinstance(message, Upload | Mark | Unbind)  # the codec yields client messages
        s = self._sessions.get(message.session)
        if s is None:
            kind = type(message).__name__.lower()
            raise RemoteProtocolError(
                f"{kind} for session {message.session}, which is not bound on this connection",
                code=int(ErrorCode.BAD_SESSION_IDENT),
            )
        if isinstance(message, Upload):
            return self._handle_upload(s, message, now_ms)
        if isinstance(message, Mark):
            s.state = next_state(SERVER_TRANSITIONS, s.state, E.RECV_MARK, s.session)
            if s.state is S.BOUND:
                if self._burst is None:
                    self._send_downloads(s)
                    self._emit(Mark(s.session, message.request_id))
                else:
                    assert s.history is not None
                    s.marks = [*(s.marks or ()), (message.request_id, s.history.latest_version)]
                    self._send_downloads(s)
            return []
        if isinstance(message, Unbind):
            s.state = next_state(SERVER_TRANSITIONS, s.state, E.RECV_UNBIND, s.session)
            del self._sessions[s.session]
            self._retired.add(s.session)
            self._emit(Unbound(s.session))
            return [ClientUnbound(s.session, s.path)]
        raise RemoteProtocolError(  # pragma: no cover - the codec only yields client messages
            f"unexpected message {message!r}", code=int(ErrorCode.UNKNOWN_MESSAGE)
        )

    def _handle_bind(self, message: Bind) -> list[ServerEvent]:
        n = message.session
        if n in self._sessions or n in self._retired:
            raise RemoteProtocolError(
                f"session id {n} was already used on this connection",
                code=int(ErrorCode.REUSE_OF_SESSION_IDENT),
            )
        for other in self._sessions.values():
            if other.path == message.path:
                raise RemoteProtocolError(
                    f"{message.path} is already bound as session {other.session}",
                    code=int(ErrorCode.BOUND_IN_OTHER_SESSION),
                )
        state = next_state(SERVER_TRANSITIONS, S.UNBOUND, E.RECV_BIND, n)
        self._sessions[n] = _Session(
            n, message.path, message.token, message.client_file_ident, message.cursors, state
        )
        ident, cursors = message.client_file_ident, message.cursors
        return [
            BindRequested(n, message.path, message.token, ident, cursors, message.client_file_salt)
        ]

    def _handle_upload(self, s: _Session, message: Upload, now_ms: int) -> list[ServerEvent]:
        if s.state is S.BINDING:
            raise RemoteProtocolError(
                f"session {s.session}: upload before the bind was answered with ident",
                code=int(ErrorCode.BAD_MESSAGE_ORDER),
            )
        s.state = next_state(SERVER_TRANSITIONS, s.state, E.RECV_UPLOAD, s.session)
        if s.state is S.ERROR:
            return []  # sent before the client saw our error: ignore
        if s.upload_denied is not None:
            # Never integrated: nobody sees any of it.
            return self._fail(s, ErrorCode.PERMISSION_DENIED, s.upload_denied, False)
        history = s.history
        assert history is not None
        progress = message.progress
        if message.changesets:
            if message.changesets[-1].client_version > progress.client_version:
                return self._fail(
                    s, ErrorCode.BAD_CLIENT_VERSION, "upload progress is behind its own changesets"
                )
            if (
                message.changesets[0].last_integrated_server_version
                != progress.last_integrated_server_version
            ):
                return self._fail(
                    s,
                    ErrorCode.BAD_SERVER_VERSION,
                    "the changesets of an upload must be based on its progress.server_version",
                )
        try:
            if s.check_upload is not None and message.changesets:
                s.check_upload(message.changesets, now_ms)
            result = self._integrate(s, history, message.changesets, now_ms)
        except (ChangesetError, HistoryCompactedError, RemoteProtocolError) as exc:
            return self._fail(s, exc.code, exc.message)
        history.record_progress(s.client_file_ident, progress.last_integrated_server_version)
        events: list[ServerEvent] = []
        if result.entries:
            events.append(
                ChangesetsIntegrated(
                    s.session, s.path, s.client_file_ident, result.entries, result.skipped
                )
            )
        self._send_downloads(s)
        return events

    # ------------------------------------------------------------------ the app's decisions

    def accept_bind(
        self,
        session: int,
        history: ServerHistory,
        *,
        can_upload: bool = True,
        upload_denied: str | None = None,
        encoded: EncodedChangesets | None = None,
        client_file_salt: int = 0,
        check_upload: UploadCheck | None = None,
        new_file_ident: int = 0,
    ) -> bool:
        """Accept a :class:`BindRequested` (token, permissions and the
        ident's owner and salt are fine): assigns a new client file ident or
        checks that the history knows the requested one, sends ``ident``
        (with ``client_file_salt``: the caller makes a new one for a new
        ident and keeps it) and the downloads the client is missing. Returns
        False when the client has unbound the session in the meantime.

        ``can_upload=False`` makes the session read-only: an upload ends it
        with ``permission_denied`` (not retryable; ``upload_denied`` is the
        error text) and is not integrated. ``encoded``: the encoded changesets
        of ``history``, shared by all its sessions (each encoded once).
        ``check_upload(changesets, now_ms)`` runs on every upload before it
        reaches the history; a :class:`ChangesetError` from it ends the
        session with that error's code and message, and nothing is stored.
        ``new_file_ident``: for a client asking for a new ident, the one the
        app allocated already (servers sharing a store allocate idents in
        it; the history must know it); 0: the history allocates one."""
        self._check_open()
        s = self._sessions.get(session)
        if s is None:
            if session in self._retired:
                return False
            raise LocalProtocolError(f"session {session} never asked to bind")
        s.state = next_state(SERVER_TRANSITIONS, s.state, E.ACCEPT, session)
        s.history = history
        s.encoded = encoded
        s.check_upload = check_upload
        self._set_upload(s, can_upload, upload_denied)
        ident = s.requested_ident
        cursors = s.cursors
        if ident == 0 and new_file_ident:
            ident = new_file_ident
            history.add_file_ident(ident)
        elif ident == 0:
            ident = history.allocate_file_ident()
        elif not history.knows_file_ident(ident):
            unknown = f"client file ident {ident} is unknown to {s.path}; reset the local realm"
            self._fail(s, ErrorCode.BAD_CLIENT_FILE_IDENT, unknown)
            return True
        problem = cursor_problem(history, ident, cursors)
        if problem is not None:
            self._fail(s, *problem)
            return True
        s.client_file_ident = ident
        s.download_version = cursors.last_integrated_server_version
        s.acked_client_version = cursors.last_acked_client_version
        s.sent = ClientHistory(
            ident,
            last_integrated_server_version=cursors.last_integrated_server_version,
            last_acked_client_version=cursors.last_acked_client_version,
            latest_client_version=history.last_client_version(ident),
        )
        history.record_progress(ident, cursors.last_integrated_server_version)
        self._emit(Ident(session, ident, client_file_salt))
        if self._burst is None:
            self._send_downloads(s)
        # else the caller streams them (downloads_pending, send_downloads): a
        # bind costs nothing until the client reads.
        return True

    def set_can_upload(
        self, session: int, can_upload: bool, upload_denied: str | None = None
    ) -> None:
        """Change whether a bound session may upload (its permission changed)."""
        self._set_upload(self._session(session), can_upload, upload_denied)

    def reject_bind(
        self, session: int, code: int, message: str, *, try_again: bool | None = None
    ) -> None:
        """Refuse a :class:`BindRequested` (bad token, no permission, bad path)."""
        self._check_open()
        s = self._session(session)
        s.state = next_state(SERVER_TRANSITIONS, s.state, E.REJECT, session)
        self._emit(Error(int(code), message, _try_again(code, try_again), session))

    def fail_session(
        self, session: int, code: int, message: str, *, try_again: bool | None = None
    ) -> None:
        """End a session with an error (e.g. its permission was revoked)."""
        self._check_open()
        self._fail(self._session(session), code, message, try_again)

    def send_downloads(self, session: int | None = None, until_version: int | None = None) -> None:
        """Send what the histories gained since the last call (all bound
        sessions, or one), up to server version ``until_version`` if given.
        Call it after another connection integrated an upload into a realm
        this connection has bound."""
        self._check_open()
        targets = [self._session(session)] if session is not None else self._sessions.values()
        for s in list(targets):
            if s.state is S.BOUND:
                self._send_downloads(s, until_version)

    def close(self, code: int = ErrorCode.CONNECTION_CLOSED, message: str = "") -> None:
        """Queue a connection-level error (e.g. the server shuts down) and close."""
        self._check_open()
        self._emit(
            Error(
                int(code),
                message or "the server closed the connection",
                _try_again(code, None),
                None,
            )
        )
        self.state = ConnectionState.CLOSED

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _set_upload(s: _Session, can_upload: bool, denied: str | None) -> None:
        if can_upload:
            s.upload_denied = None
        else:
            s.upload_denied = denied or f"this session may only read {s.path}; upload refused"

    def _integrate(
        self,
        s: _Session,
        history: ServerHistory,
        changesets: tuple[Changeset, ...],
        now_ms: int,
    ) -> IntegrationResult:
        ident = s.client_file_ident
        mirror = s.sent
        snapshot_of = s.snapshot_of
        if not changesets or mirror is None:
            return history.integrate(ident, changesets, now_ms=now_ms, snapshot_of=snapshot_of)
        base = changesets[0].last_integrated_server_version
        if base > mirror.last_integrated_server_version:
            rebase_mirror(mirror, history, ident, base, snapshot_of)
        first = changesets[0].client_version
        if base == mirror.last_integrated_server_version:
            earlier = [c for c in mirror.pending if c.client_version < first]
        else:  # an upload on an older base: the history refuses it if it must
            earlier = []
        if earlier and base != s.copies_base:
            # Some of our changesets after the base reached the history on
            # another base: it needs them as the client has them now.
            result = history.integrate(
                ident, (*earlier, *changesets), now_ms=now_ms, snapshot_of=snapshot_of
            )
        else:
            try:
                result = history.integrate(
                    ident, changesets, now_ms=now_ms, snapshot_of=snapshot_of
                )
            except ChangesetError as exc:
                if not earlier or exc.code != ErrorCode.BAD_SERVER_VERSION:
                    raise
                # The history no longer holds them on this base (e.g. rebuilt
                # after a restart): all or nothing, so try again with copies.
                result = history.integrate(
                ident, (*earlier, *changesets), now_ms=now_ms, snapshot_of=snapshot_of
            )
        mirror.pending = [*earlier, *changesets]
        mirror.last_integrated_server_version = base
        mirror.latest_client_version = max(
            mirror.latest_client_version, changesets[-1].client_version
        )
        s.copies_base = base
        return result

    def _send_downloads(self, s: _Session, until_version: int | None = None) -> None:
        history = s.history
        assert history is not None
        latest = history.latest_version
        if until_version is not None:
            latest = min(latest, until_version)
            if s.download_version >= latest:
                self._answer_marks(s)
                return
        burst = self._burst
        while burst is None or burst > 0:
            if s.download_version == 0:
                # A new client: it streams the snapshot of the current floor.
                s.snapshot_of = history.base_version
            try:
                batch = history.download(
                    s.client_file_ident,
                    s.download_version,
                    self._max_download,
                    latest,
                    snapshot_of=s.snapshot_of,
                )
            except (ChangesetError, HistoryCompactedError) as exc:
                # E.g. the history was compacted past this client while it was bound.
                self._fail(s, exc.code, exc.message)
                return
            if (
                not batch.changesets
                and batch.server_version == s.download_version
                and batch.upload_ack == s.acked_client_version
            ):
                break
            self._emit(
                Download(
                    s.session,
                    batch.changesets,
                    DownloadProgress(batch.server_version, latest),
                    batch.upload_ack,
                ),
                s.encoded,
            )
            s.download_version = batch.server_version
            s.acked_client_version = batch.upload_ack
            if batch.server_version >= latest:
                break
            if burst is not None:
                burst -= 1
        self._answer_marks(s)

    def _answer_marks(self, s: _Session) -> None:
        if not s.marks:
            return
        waiting = []
        for request_id, version in s.marks:
            if version <= s.download_version:
                self._emit(Mark(s.session, request_id))
            else:
                waiting.append((request_id, version))
        s.marks = waiting

    def _fail(
        self, s: _Session, code: int, message: str, try_again: bool | None = None
    ) -> list[ServerEvent]:
        s.state = next_state(SERVER_TRANSITIONS, s.state, E.FAIL, s.session)
        again = _try_again(code, try_again)
        self._emit(Error(int(code), message, again, s.session))
        return [SessionError(s.session, int(code), message, again)]

    def _fail_connection(self, exc: RemoteProtocolError) -> None:
        if self.state is ConnectionState.OPEN:
            self._emit(Error(exc.code, exc.message, exc.try_again, None))
            self.state = ConnectionState.CLOSED

    def _session(self, session: int) -> _Session:
        s = self._sessions.get(session)
        if s is None:
            raise LocalProtocolError(f"session {session} is not bound on this connection")
        return s

    def _check_open(self) -> None:
        if self.state is not ConnectionState.OPEN:
            raise LocalProtocolError("the connection is closed")

    def _emit(self, message: ServerMessage, cache: EncodedChangesets | None = None) -> None:
        self._out.append((encode_message(message, cache), describe_frame(message)))


def _try_again(code: int, given: bool | None) -> bool:
    if given is not None:
        return given
    try:
        return ErrorCode(code).try_again
    except ValueError:
        return False
