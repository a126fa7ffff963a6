"""One sync connection: a websocket driven by the sans-I/O
:class:`~studio.sync.protocol.ServerConnection`.

The receive loop feeds each binary frame to the protocol object and acts on
its events (bind decisions, pushing downloads to the other connections of a
realm, unbinds). Everything the protocol object wants to send goes through a
queue to a sender task, tagged with the commit barrier (durability.py), so
that nothing leaves before what it depends on is stored.

Whatever a client does wrong ends its own connection only: malformed frames,
unknown messages and wrong field types come back from the protocol object as
RemoteProtocolError (its error message is already queued); limits are
checked here; an unexpected exception while handling a frame is logged and
also ends just this connection.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSMsgType

from studio.server.binding import BindHandling, BoundSession
from studio.server.logs import log
from studio.server.permissions import Level
from studio.server.sync_socket import SyncSocket
from studio.sync import timeline
from studio.sync.errors import LocalProtocolError, RemoteProtocolError
from studio.sync.protocol import (
    BindRequested,
    ChangesetsIntegrated,
    ClientMessage,
    ClientUnbound,
    ConnectionState,
    Download,
    Error,
    ErrorCode,
    OutgoingFrame,
    ServerConnection,
    SessionError,
    SessionState,
)

if TYPE_CHECKING:
    from studio.server.context import ServerContext

_ids = itertools.count(1)
_CLOSE: Final = None


@dataclass(slots=True)
class _Outgoing:
    seq: int
    frames: list[tuple[bytes, OutgoingFrame]]
    size: int
    generation: int


class SyncConnection(BindHandling):
    def __init__(
        self, ctx: ServerContext, ws: SyncSocket, address: str, *, agent: str = ""
    ) -> None:
        self.id = next(_ids)
        self.ctx = ctx
        self.ws = ws
        self.address = address
        self.agent = agent
        """The client's User-Agent (clipped): what kind of client this is."""
        self.since = time.time()
        limits = ctx.config.limits
        self.sc = ServerConnection(
            max_download_changesets=limits.max_download_changesets,
            max_message_size=limits.max_message_size,
            # Downloads are streamed: one message per session at a time,
            # more as the client reads (see _stream).
            download_burst=1,
        )
        self.sessions: dict[int, BoundSession] = {}
        self.requested: dict[int, str] = {}
        """Session id -> the path its bind asked for (for error reports)."""
        self.users: list[str] = []
        self.binds = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.last_message: float | None = None
        self._behind: set[int] = set()
        """Sessions that may have more to download (streamed by _stream)."""
        self._stream_scheduled = False
        self._queue: deque[_Outgoing | None] = deque()
        self._wakeup = asyncio.Event()
        self._queued_bytes = 0
        self.last_drained = time.monotonic()
        """When a queued message last left (or the queue was empty): a client
        that reads nothing leaves it behind (see relieve_budget)."""
        self._generation = 0
        self._sending = False
        """The send task is writing an item (and may be waiting for the socket)."""
        self._writing = False
        """_write_ready is writing."""
        self._closing = False
        ws.on_too_big = self._too_big

    # ------------------------------------------------------------------ lifetime

    async def run(self) -> None:
        ctx = self.ctx
        ctx.connections[self.id] = self
        ctx.metrics.connections_total.inc()
        log(20, "connection_opened", connection=self.id, address=self.address, agent=self.agent)
        ctx.bus.publish(
            "connection_opened", connection=self.id, address=self.address, agent=self.agent
        )
        sender = asyncio.get_running_loop().create_task(self._send_loop(), name=f"send {self.id}")
        try:
            await self._receive_loop()
        finally:
            self._closing = True
            self._detach_all("connection closed")
            self._queue.append(_CLOSE)
            self._wakeup.set()
            try:
                await asyncio.wait_for(sender, timeout=10)
            except (TimeoutError, asyncio.CancelledError, Exception):
                sender.cancel()
            if not self.ws.closed:
                await self.ws.close()
            self.ws.on_too_big = None
            ctx.outbound.forget(self.id)
            self._drop_queue()
            ctx.connections.pop(self.id, None)
            log(
                20,
                "connection_closed",
                connection=self.id,
                address=self.address,
                bytes_in=self.bytes_in,
                bytes_out=self.bytes_out,
            )
            ctx.bus.publish("connection_closed", connection=self.id, address=self.address)

    async def _receive_loop(self) -> None:
        limits = self.ctx.config.limits
        first = True
        pinged = False
        while not self._closing:
            if first:
                timeout = limits.first_message_timeout
            else:
                # Silent for a heartbeat: ping; no answer within half of one: gone.
                timeout = limits.heartbeat / 2 if pinged else limits.heartbeat
            try:
                msg = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                if first:
                    self._end(
                        ErrorCode.CONNECTION_CLOSED,
                        f"no message within {limits.first_message_timeout:g} s of connecting",
                    )
                    return
                if pinged:
                    log(20, "peer_unresponsive", connection=self.id, address=self.address)
                    self.ws.abort()
                    return
                pinged = True
                try:
                    await self.ws.ping()
                except (ConnectionError, RuntimeError):
                    return
                continue
            pinged = False
            if msg.type is WSMsgType.BINARY:
                first = False
                await self._on_frame(msg.data)
            elif msg.type is WSMsgType.PING:
                try:
                    await self.ws.pong(msg.data)
                except (ConnectionError, RuntimeError):
                    return
            elif msg.type is WSMsgType.PONG:
                continue
            elif msg.type is WSMsgType.TEXT:
                self._end(
                    ErrorCode.BAD_SYNTAX,
                    "sync messages are binary websocket frames (msgpack), not text",
                )
                return
            else:  # CLOSE, CLOSING, CLOSED, ERROR (a too-large message was answered by the hook)
                return

    def _end(self, code: ErrorCode, message: str) -> None:
        """Send a connection-level error and close after it."""
        if self.sc.state is ConnectionState.OPEN:
            self.sc.close(code, message)
        self._flush()
        self._closing = True

    def shut_down(self, code: ErrorCode, message: str) -> None:
        """Close after everything queued (server shutdown)."""
        self._end(code, message)
        self._queue.append(_CLOSE)
        self._wakeup.set()

    def abort(self, code: ErrorCode, message: str) -> None:
        """End the connection at once: frames still queued are dropped (they
        may depend on data that will never be stored), then the error is sent."""
        self._generation += 1
        self._drop_queue()
        self._end(code, message)
        self._queue.append(_CLOSE)
        self._wakeup.set()

    def _too_big(self) -> list[bytes]:
        limit = self.ctx.config.limits.max_message_size
        log(30, "message_too_large", connection=self.id, limit=limit)
        self._closing = True
        if self.sc.state is not ConnectionState.OPEN:
            return []
        self.sc.close(ErrorCode.LIMITS_EXCEEDED, f"a message is larger than {limit} bytes")
        frames = self.sc.frames_to_send_described()
        for frame, info in frames:
            self._account_sent(frame, info)
        return [frame for frame, _ in frames]

    # ------------------------------------------------------------------ receiving

    async def _on_frame(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.ctx.metrics.bytes_in.inc(len(data))
        self.last_message = time.time()
        timeline.mark("server.frame_received")
        try:
            message = self.sc.decode(data)
        except Exception as exc:
            self._receive_failed(exc)
            return
        timeline.mark("server.decoded")
        cluster = self.ctx.cluster
        session = None if cluster is None else self.sc.upload_session(message)
        bound = None if session is None else self.sessions.get(session)
        if cluster is None or bound is None:
            await self._on_message(message, len(data))
            return
        # Only one server process integrates into a realm at a time; the
        # lease goes once what this upload changed is stored.
        await cluster.hold(bound.realm)
        try:
            if self.sc.state is ConnectionState.OPEN:
                await self._on_message(message, len(data))
        finally:
            cluster.done(bound.realm, self.ctx.committer.seq)

    def _receive_failed(self, exc: Exception) -> None:
        if isinstance(exc, RemoteProtocolError):
            log(30, "protocol_error", connection=self.id, code=exc.code, message=exc.message)
            self._flush()  # the protocol object queued the error message
            self._closing = True
            return
        # A bug (here or in the protocol package) must cost this one
        # connection, not the server.
        log(40, "internal_error", connection=self.id, error=f"{type(exc).__name__}: {exc}")
        self._end(ErrorCode.OTHER_ERROR, "internal server error; reconnect")

    async def _on_message(self, message: ClientMessage, size: int) -> None:
        started = time.perf_counter()
        try:
            events = self.sc.receive_decoded(message, now_ms=int(time.time() * 1000))
        except Exception as exc:
            self._receive_failed(exc)
            return
        elapsed = time.perf_counter() - started
        timeline.mark("server.merged")
        for event in events:
            if isinstance(event, BindRequested):
                await self._on_bind(event)
            elif isinstance(event, ChangesetsIntegrated):
                self._on_integrated(event, elapsed, size)
            elif isinstance(event, ClientUnbound):
                self._on_unbound(event.session, "unbind")
            elif isinstance(event, SessionError):
                log(
                    30,
                    "upload_rejected",
                    connection=self.id,
                    session=event.session,
                    code=event.code,
                    message=event.message,
                )
        self._flush()
        if self.sessions:
            # A bind, upload or mark produced the first download of a burst.
            self._behind.update(self.sessions)
            self._schedule_stream()
        timeline.mark("server.queued")

    def _on_integrated(self, event: ChangesetsIntegrated, elapsed: float, size: int) -> None:
        ctx = self.ctx
        bound = self.sessions[event.session]
        realm = bound.realm
        realm.add_entries(event.entries, bound.user, event.client_file_ident)
        ctx.committer.note(realm)
        ctx.hub.schedule_state(realm)
        ctx.metrics.uploads.inc(len(event.entries))
        ctx.metrics.merge.observe(elapsed)
        # The other sessions get these changesets once they are stored
        # (Committer -> push_downloads), not before: one download per commit
        # instead of one per upload, and nothing that waits in their queues.
        if ctx.bus.active:
            ctx.bus.publish(
                "upload",
                realm=realm.path,
                connection=self.id,
                client=event.client_file_ident,
                user=bound.user,
                changesets=len(event.entries),
                skipped=event.skipped,
                instructions=sum(len(e.changeset.instructions) for e in event.entries),
                bytes=size,
                merge_ms=round(elapsed * 1000, 3),
                server_version=event.entries[-1].server_version,
            )

    def _on_unbound(self, session: int, reason: str) -> None:
        bound = self.sessions.pop(session, None)
        if bound is None:
            return
        bound.realm.detach(self, session)
        self.ctx.hub.release(bound.realm)
        log(
            20,
            "session_unbound",
            connection=self.id,
            session=session,
            realm=bound.path,
            reason=reason,
        )
        self.ctx.bus.publish(
            "session_unbound", connection=self.id, session=session, realm=bound.path, reason=reason
        )

    def _detach_all(self, reason: str) -> None:
        for session in list(self.sessions):
            self._on_unbound(session, reason)

    # ------------------------------------------------------------------ called by others

    def push_downloads(self, session: int) -> None:
        """The realm this session has bound stored new changesets. The
        download (of what is stored, nothing newer) is built a moment later
        (next loop iteration), together with the other sessions of this
        connection pushed meanwhile."""
        if self._closing:
            return
        self._behind.add(session)
        self._schedule_stream()

    def stream_stored(self, session: int) -> None:
        """As :meth:`push_downloads`, but the download is built and written
        now: the commit's report is being handled and no other can follow in
        this loop iteration (nothing to gather)."""
        if self._closing:
            return
        self._behind.add(session)
        self._stream()

    def _schedule_stream(self) -> None:
        if not self._stream_scheduled:
            self._stream_scheduled = True
            asyncio.get_running_loop().call_soon(self._stream)

    def _stream(self) -> None:
        """Produce downloads of the sessions that are behind, one message per
        session per round, while fewer than ``download_window`` bytes wait
        for this client and the server-wide budget has room. The send loop
        calls this again as bytes leave; the budget wakes it when it was
        the budget that stopped it."""
        self._stream_scheduled = False
        if self._closing or self.sc.state is not ConnectionState.OPEN:
            return
        budget = self.ctx.outbound
        window = self.ctx.config.limits.download_window
        while self._behind and self._queued_bytes < window:
            if not budget.has_room:
                budget.wait(self.id, self._schedule_stream)
                if not budget.relief_scheduled:
                    budget.relief_scheduled = True
                    stall = self.ctx.config.limits.send_stall
                    asyncio.get_running_loop().call_later(stall, relieve_budget, self.ctx)
                return
            for session in list(self._behind):
                bound = self.sessions.get(session)
                until = bound.realm.durable_version if bound is not None else 0
                if bound is None or not self.sc.downloads_pending(session, until):
                    self._behind.discard(session)
                    continue
                try:
                    self.sc.send_downloads(session, until_version=until)
                except LocalProtocolError:
                    self._behind.discard(session)
            # Stored already: these frames need not wait for a commit.
            self._flush(durable=True)
            if self._closing:
                return

    def fail_session(self, session: int, code: ErrorCode, message: str) -> None:
        """End one session with an error (permission revoked, realm deleted)."""
        if session in self.sessions:
            bound = self.sessions[session]
            bound.realm.detach(self, session)  # no more downloads
        if self._closing or self.sc.state is not ConnectionState.OPEN:
            return
        if self.sc.session_state(session) in (SessionState.BOUND, SessionState.BINDING):
            self.sc.fail_session(session, code, message, try_again=False)
            self._flush()

    def set_level(self, session: int, level: Level) -> None:
        bound = self.sessions.get(session)
        if bound is None:
            return
        bound.level = level
        if self._closing or self.sc.state is not ConnectionState.OPEN:
            return
        try:
            self.sc.set_can_upload(
                session,
                level >= Level.WRITE,
                f"{bound.user} may only read {bound.path}; the upload was refused",
            )
        except LocalProtocolError:
            pass  # unbound in the meantime

    # ------------------------------------------------------------------ sending

    def _flush(self, *, durable: bool = False) -> None:
        """Queue what the protocol produced; unless ``durable``, it waits until
        everything integrated so far is stored (see durability.py)."""
        frames = self.sc.frames_to_send_described()
        if not frames:
            return
        size = sum(len(f) for f, _ in frames)
        committer = self.ctx.committer
        seq = 0 if durable else committer.seq
        if self._queued_bytes == 0:  # nothing waiting, nothing being sent
            self.last_drained = time.monotonic()
        self._queue.append(_Outgoing(seq, frames, size, self._generation))
        self._queued_bytes += size
        self.ctx.outbound.add(size)
        if committer.is_durable(seq):
            self._write_ready()
        else:
            # It leaves from the commit's report on the loop (_write_ready),
            # not from a send task woken for it.
            committer.call_when_durable(seq, self._write_ready)
        limit = self.ctx.config.limits.max_outbound_bytes
        if self._queued_bytes > limit and not self._closing:
            log(30, "client_too_slow", connection=self.id, queued=self._queued_bytes)
            self.abort(
                ErrorCode.LIMITS_EXCEEDED,
                f"more than {limit} bytes waiting: the client does not read fast enough",
            )

    def _drop_queue(self) -> None:
        """Forget what waits to be sent (and give its bytes back to the budget)."""
        self._queue.clear()
        self.ctx.outbound.release(self._queued_bytes)
        self._queued_bytes = 0

    def _ready(self) -> _Outgoing | None:
        """The item at the head of the queue if it may leave now (None: the
        queue is empty, or its head waits for a commit; _CLOSE is not ready)."""
        if not self._queue:
            return None
        item = self._queue[0]
        if item is _CLOSE or not self.ctx.committer.is_durable(item.seq):
            return None
        return item

    def _write_ready(self) -> None:
        """Write what may leave now, here, instead of waking the send task for
        it: called when frames are queued that need no commit, and when a
        commit that queued frames wait for is stored (in the step of the loop
        that learns it, durability.py). The send task takes over whatever
        cannot be written without waiting (a full socket buffer, a close)."""
        if self._sending or self._writing:
            # The send task is inside an item, or this is a call from within
            # the loop below (_sent -> _stream -> _flush): they go on by themselves.
            return
        timeline.mark("server.durable_seen")
        ws = self.ws
        self._writing = True
        try:
            while (item := self._ready()) is not None and ws.can_write_now():
                self._queue.popleft()
                for frame, info in item.frames:
                    ws.write_now(frame)
                    self._account_sent(frame, info)
                timeline.mark("server.sent")
                self._sent(item)
        finally:
            self._writing = False
        if self._queue and (self._queue[0] is _CLOSE or self._ready() is not None):
            self._wakeup.set()

    def _sent(self, item: _Outgoing) -> None:
        """Bookkeeping once ``item`` left."""
        if item.generation == self._generation:  # else abort() released it
            self._queued_bytes -= item.size
            self.ctx.outbound.release(item.size)
        self.last_drained = time.monotonic()
        if self._behind and self._queued_bytes < self.ctx.config.limits.download_window:
            self._stream()

    async def _send_loop(self) -> None:
        try:
            while True:
                if not self._queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if self._queue[0] is _CLOSE:
                    break
                item = self._ready()
                if item is None:
                    # Its commit is not stored yet: _write_ready sends it,
                    # or wakes this task if it cannot.
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                self._queue.popleft()
                if item.generation != self._generation:
                    continue  # dropped by abort()
                self._sending = True
                try:
                    for frame, info in item.frames:
                        await self.ws.send_bytes(frame)
                        self._account_sent(frame, info)
                finally:
                    self._sending = False
                timeline.mark("server.sent")
                self._sent(item)
        except (ConnectionError, RuntimeError) as exc:
            log(10, "send_failed", connection=self.id, error=str(exc))
        finally:
            self._closing = True
            if not self.ws.closed:
                await self.ws.close()

    def _account_sent(self, frame: bytes, info: OutgoingFrame) -> None:
        """Metrics and admin events for one frame that went out."""
        ctx = self.ctx
        self.bytes_out += len(frame)
        ctx.metrics.bytes_out.inc(len(frame))
        message = info.message
        if isinstance(message, Download):
            if not info.changesets:
                return
            ctx.metrics.downloads.inc(info.changesets)
            if ctx.bus.active:
                bound = self.sessions.get(message.session)
                ctx.bus.publish(
                    "download",
                    realm=bound.path if bound else None,
                    connection=self.id,
                    client=bound.client_file_ident if bound else None,
                    changesets=info.changesets,
                    instructions=info.instructions,
                    bytes=len(frame),
                    server_version=message.progress.server_version,
                )
        elif isinstance(message, Error):
            code = int(message.code)
            ctx.metrics.errors.inc(label=ErrorCode.describe(code))
            session = message.session
            path = None
            if session is not None:
                bound = self.sessions.get(session)
                path = bound.path if bound else self.requested.get(session)
            # A shutdown tells every client "connection closed, retry": routine.
            log(
                20 if code == ErrorCode.CONNECTION_CLOSED else 30,
                "error_sent",
                connection=self.id,
                session=session,
                realm=path,
                code=code,
                message=message.message,
            )
            ctx.bus.publish(
                "error",
                connection=self.id,
                session=session,
                realm=path,
                code=code,
                name=ErrorCode.describe(code),
                message=message.message,
                try_again=message.try_again,
            )

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting to be sent to this client."""
        return self._queued_bytes

    # ------------------------------------------------------------------ reporting

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "agent": self.agent,
            "user": self.users[0] if self.users else None,
            "users": list(self.users),
            "realms": sorted({b.path for b in self.sessions.values()}),
            "since": self.since,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "last_message": self.last_message,
        }


def relieve_budget(ctx: ServerContext) -> None:
    """The server-wide outbound budget has been spent for ``send_stall``
    seconds: close the connection whose client has read nothing for longest,
    if that is longer than ``send_stall`` (a client that never reads must not
    hold the budget against everyone else; it reconnects and resumes from
    its cursors). Checks again later while the budget stays spent."""
    budget = ctx.outbound
    budget.relief_scheduled = False
    if budget.has_room:
        return
    stall = ctx.config.limits.send_stall
    now = time.monotonic()
    stalled = [c for c in ctx.connections.values() if c.queued_bytes > 0]
    if stalled:
        worst = min(stalled, key=lambda c: c.last_drained)
        if now - worst.last_drained >= stall:
            log(
                30,
                "client_stalled",
                connection=worst.id,
                queued=worst.queued_bytes,
                server_queued=budget.queued,
            )
            worst.abort(
                ErrorCode.LIMITS_EXCEEDED,
                f"the client read nothing for {now - worst.last_drained:.0f} s "
                "while the server's send buffers are full",
            )
            # It reads nothing: the error cannot reach it, nor can a closing
            # handshake. Drop the TCP connection.
            worst.ws.abort()
    if budget.waiting and not budget.relief_scheduled:
        budget.relief_scheduled = True
        asyncio.get_running_loop().call_later(stall / 2, relieve_budget, ctx)
