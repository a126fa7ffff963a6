"""An in-test sync server for the client's unit tests (no tests of its own).

The real object server lives in ``studio.server``; this one is the sans-I/O
:class:`ServerConnection` plus :class:`ServerHistory` behind a ``websockets``
server, with toy tokens (``"tok:<user>"``, ``"expired:<user>"``) and a
permission table, so the client's connection handling can be tested in
isolation and with faults injected (dropped connections, garbage frames).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, serve
from websockets.asyncio.server import ServerConnection as WsConnection
from websockets.typing import Subprotocol

from studio.primitives.instructions import AddClass, AddProperty
from studio.sync.client import App, SyncConfig, User
from studio.sync.client.servers import ServerList
from studio.sync.history import ServerHistory
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    BindRequested,
    ChangesetsIntegrated,
    ErrorCode,
    ServerConnection,
    Upload,
    decode_client_message,
)

SCHEMA = [
    {
        "name": "Message",
        "primaryKey": "_id",
        "properties": {"_id": "string", "text": "string", "author": "string", "n": "int"},
    },
    {
        "name": "Chat",
        "primaryKey": "_id",
        "properties": {"_id": "string", "title": "string?", "messages": "Message[]"},
    },
]

FAST = SyncConfig(reconnect_initial=0.02, reconnect_max=0.2, watch_files=False)


@dataclass
class _Client:
    ws: WsConnection
    conn: ServerConnection
    user_of: dict[int, str] = field(default_factory=dict)
    read_only: set[int] = field(default_factory=set)


class FakeServer:
    """One process-local sync server; ``permissions[path][user]`` is read/write/admin
    (missing path: everyone may write)."""

    def __init__(self) -> None:
        self.histories: dict[str, ServerHistory] = {}
        self.permissions: dict[str, dict[str, str]] = {}
        self.clients: list[_Client] = []
        self.server: Server | None = None
        self.port = 0
        self.hold = False  # True: receive frames but do not answer (a stalled server)
        self.binds = 0
        self.refused_uploads = 0
        self.token_checks: list[str] = []
        self.reject_binds: Callable[[BindRequested], tuple[int, str] | None] | None = None
        """A scripted refusal: (code, message) for the binds it returns one for."""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sync"

    async def start(self, port: int = 0) -> None:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            port,
            subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
            compression=None,
            max_size=None,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection (the histories survive, as on disk)."""
        if self.server is not None:
            self.server.close()
            for client in list(self.clients):
                client.ws.transport.abort()
            await self.server.wait_closed()
            self.server = None
        self.clients.clear()

    async def drop_connections(self) -> None:
        for client in list(self.clients):
            client.ws.transport.abort()
        await asyncio.sleep(0.01)

    def history(self, path: str) -> ServerHistory:
        return self.histories.setdefault(path, ServerHistory())

    async def _handle(self, ws: WsConnection) -> None:
        client = _Client(ws, ServerConnection())
        self.clients.append(client)
        try:
            async for frame in ws:
                assert isinstance(frame, bytes)
                while self.hold:
                    await asyncio.sleep(0.01)
                await self._receive(client, frame)
        except Exception:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.clients.remove(client)

    async def _receive(self, client: _Client, frame: bytes) -> None:
        conn = client.conn
        message = decode_client_message(frame)
        if (
            isinstance(message, Upload)
            and message.session in client.read_only
            and any(_not_schema(c.instructions) for c in message.changesets)
        ):
            self.refused_uploads += 1
            conn.fail_session(message.session, int(ErrorCode.PERMISSION_DENIED), "read-only realm")
            await self._send(client)
            return
        events = conn.receive_message(frame, now_ms=int(time.time() * 1000))
        for event in events:
            if isinstance(event, BindRequested):
                self._bind(client, event)
            elif isinstance(event, ChangesetsIntegrated):
                for other in self.clients:
                    if other is client:
                        continue
                    for sid, path in other.conn.bound_sessions().items():
                        if path == event.path:
                            other.conn.send_downloads(sid)
                    await self._send(other)
        await self._send(client)

    def _bind(self, client: _Client, event: BindRequested) -> None:
        conn = client.conn
        self.token_checks.append(event.token)
        kind, _, user = event.token.partition(":")
        if kind == "expired":
            conn.reject_bind(event.session, int(ErrorCode.TOKEN_EXPIRED), "token expired")
            return
        if kind != "tok":
            conn.reject_bind(event.session, int(ErrorCode.BAD_AUTHENTICATION), "bad token")
            return
        refusal = self.reject_binds(event) if self.reject_binds is not None else None
        if refusal is not None:
            conn.reject_bind(event.session, *refusal)
            return
        path = event.path.replace("/~/", f"/u/{user}/")
        level = self.permissions.get(path, {}).get(user, "write" if path not in
                                                   self.permissions else None)  # fmt: skip
        if level is None:
            conn.reject_bind(event.session, int(ErrorCode.PERMISSION_DENIED), "no access")
            return
        if level == "read":
            client.read_only.add(event.session)
        self.binds += 1
        conn.accept_bind(event.session, self.history(path))

    async def _send(self, client: _Client) -> None:
        for frame in client.conn.frames_to_send():
            with contextlib.suppress(Exception):
                await client.ws.send(frame)


def _not_schema(instructions: Any) -> bool:
    return any(not isinstance(i, AddClass | AddProperty) for i in instructions)


def make_user(name: str, token: str | None = None, expires_in: float = 900) -> User:
    return User(
        "http://127.0.0.1:1",
        name,
        access_token=token or f"tok:{name}",
        refresh_token=f"refresh:{name}",
        expires_in=expires_in,
    )


def make_app(server: FakeServer, tmp: Path, config: SyncConfig = FAST) -> App:
    app = App("http://127.0.0.1:1", config=config, base_dir=tmp)
    # the fake server speaks only websockets: the App syncs with it, and its
    # local files stay under the first URL whatever the fake server's port
    app.servers = ServerList(f"http://127.0.0.1:{server.port}")
    return app


@contextlib.asynccontextmanager
async def running_server() -> AsyncIterator[FakeServer]:
    server = FakeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def run(coro_fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test on a fresh event loop, with a deadline."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            await asyncio.wait_for(coro_fn(*args, **kwargs), 60)

        asyncio.run(main())

    return wrapper


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def send_raw(server: FakeServer, data: bytes | str) -> None:
    """Send a frame the protocol does not allow to every connected client."""
    for client in list(server.clients):
        with contextlib.suppress(Exception):
            await client.ws.send(data)
