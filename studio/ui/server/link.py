"""The server window's connection to one object server: login, the admin event
stream, reconnecting with backoff.

Everything here runs on the qasync loop (the Qt thread) and never blocks: HTTP
calls of the sync client run in worker threads, the event stream is a websocket
read by an asyncio task. Events are not handed to the widgets one by one: they
are collected and delivered as a list at most every ``flush_ms`` (100 ms), so a
server streaming thousands of events a second costs the UI ten signal
emissions a second, not thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio.primitives.waiting import wait_event
from studio.sync.client import App, SyncConfig, User
from studio.sync.client.admin import AdminApi
from studio.sync.client.config import Backoff
from studio.ui.server.errors import describe_connect_error

FLUSH_MS = 100
# The UI's reconnect backoff is shorter than the sync client's (30 s ceiling): a
# person watching a dashboard wants it back soon after the server is.
RECONNECT_INITIAL = 0.5
RECONNECT_MAX = 8.0


class LinkState(Enum):
    DISCONNECTED = "disconnected"  # not logged in, or logged out
    CONNECTING = "connecting"  # logging in / opening the stream for the first time
    CONNECTED = "connected"  # the event stream is open
    RECONNECTING = "reconnecting"  # the server went away; retrying with backoff


class ServerLink(QObject):
    """One logged-in admin session with a server and its live event stream."""

    stateChanged = Signal(object, str)  # LinkState, detail text for people
    eventsReceived = Signal(list)  # a batch of admin events (dicts), oldest first
    connected = Signal()  # (re)connected: lists shown elsewhere may be stale

    def __init__(self, url: str, base_dir: str | Path, *, flush_ms: int = FLUSH_MS,
                 reconnect_initial: float = RECONNECT_INITIAL,
                 reconnect_max: float = RECONNECT_MAX, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = url.rstrip("/")
        """As given: one server, or several separated by commas (the App moves on
        from one that cannot be reached; the event stream is the current one's)."""
        self.base_dir = Path(base_dir)
        # Realms the Studio opens come back quickly after a server restart too; their
        # files need no sync-side watcher, the browser polls them already (every 100 ms)
        # and its refresh wakes the session like any commit.
        config = SyncConfig(reconnect_initial=0.25, reconnect_max=5.0, watch_files=False)
        self.app = App(self.url, config=config, base_dir=self.base_dir)
        self.user: User | None = None
        self.state = LinkState.DISCONNECTED
        self.detail = ""
        self.server_info: dict[str, Any] = {}
        self.retry_at: float | None = None  # monotonic time of the next attempt
        self.attempts = 0
        self.events_total = 0
        self._backoff = Backoff(reconnect_initial, reconnect_max)
        self._pending: list[dict[str, Any]] = []
        self._stream: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False
        self._flush = QTimer(self)
        self._flush.setInterval(flush_ms)
        self._flush.timeout.connect(self._deliver)

    # -- public ----------------------------------------------------------------------------

    @property
    def admin(self) -> AdminApi:
        return self.app.admin

    @property
    def is_connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def login(self, username: str, password: str) -> User:
        """Log in as an admin and start the event stream. Raises what the client raises;
        :func:`describe_connect_error` words it."""
        self._set_state(LinkState.CONNECTING, f"Logging in to {self.url}…")
        try:
            self.server_info = await self.app.health()
            user = await self.app.login(username, password)
        except BaseException:
            self._set_state(LinkState.DISCONNECTED, "")
            raise
        if not user.is_admin:
            await self.app.log_out(user)
            self._set_state(LinkState.DISCONNECTED, "")
            raise PermissionError(
                f"{username} is not an admin on {self.url}: the server window shows the whole "
                "server, so it needs an admin user. Log in as an admin (such as 'admin').")
        self.user = user
        self._start_stream()
        return user

    def retry_now(self) -> None:
        """Skip the rest of the backoff delay (the "Retry now" button)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop the stream and close the App (and with it every realm it syncs)."""
        self._closed = True
        self._flush.stop()
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stream
            self._stream = None
        await self.app.close()
        self._set_state(LinkState.DISCONNECTED, "")

    # -- the stream ------------------------------------------------------------------------

    def _start_stream(self) -> None:
        self._closed = False
        self._flush.start()
        self._stream = asyncio.ensure_future(self._run_stream())

    async def _run_stream(self) -> None:
        first = True
        error: BaseException | None = None
        while not self._closed:
            try:
                if not first:
                    self.server_info = await self.app.health()
                    if _refused(error) and self.user is not None:
                        # The stream's handshake refused our token (the server's key
                        # changed, or it expired early): a new one, then the stream.
                        await self.user.refresh()
                error = None
                await self._read_events()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            first = False
            if self._closed:
                return
            await self._wait_before_retry(error)

    async def _read_events(self) -> None:
        stream = self.admin.events()
        try:
            async for event in stream:
                if self.state is not LinkState.CONNECTED:
                    self._on_connected()
                self._pending.append(event)
                self.events_total += 1
        finally:
            # Close the websocket now rather than when the generator is collected.
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
        # The server closed the stream cleanly (it is shutting down): retry like a drop.

    def _on_connected(self) -> None:
        self._backoff.reset()
        self.attempts = 0
        self.retry_at = None
        self._set_state(LinkState.CONNECTED, f"Connected to {self.app.servers.current}")
        self.connected.emit()

    async def _wait_before_retry(self, error: BaseException | None) -> None:
        delay = self._backoff.next_delay()
        self.attempts += 1
        self.retry_at = time.monotonic() + delay
        why = describe_connect_error(error, self.app.servers.current) if error is not None else (
            "The server closed the connection.")
        self._set_state(LinkState.RECONNECTING, why)
        self._wake.clear()
        await wait_event(self._wake, delay)
        self.retry_at = None

    # -- delivery --------------------------------------------------------------------------

    def _deliver(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.eventsReceived.emit(batch)

    def _set_state(self, state: LinkState, detail: str) -> None:
        if state is self.state and detail == self.detail:
            return
        self.state, self.detail = state, detail
        self.stateChanged.emit(state, detail)


def _refused(error: BaseException | None) -> bool:
    """Whether the websocket handshake was answered 401/403 (websockets' InvalidStatus)."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None) in (401, 403)
