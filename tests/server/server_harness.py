"""Test helpers: an in-process or subprocess server, HTTP calls, and a raw
protocol client (ClientConnection + ClientHistory + a model replica over a
`websockets` connection)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from oracles import model
from server_process import ADMIN_PASSWORD, FAST_SCRYPT
from websockets.asyncio.client import ClientConnection as WsConnection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from studio.primitives.instructions import (
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    CreateObject,
    Instruction,
)
from studio.primitives.instructions import Set as SetValue
from studio.server import Server, ServerConfig
from studio.sync.client_history import ClientHistory
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bound,
    ClientConnection,
    ConnectionFailed,
    DownloadProgressed,
    RemoteChanges,
    SessionError,
    UploadAcknowledged,
)

SCHEMA: tuple[Instruction, ...] = (
    AddClass("Item", "_id", "int", False, False),
    AddProperty("Item", "name", "string?"),
    AddProperty("Item", "n", "int?"),
    AddClass("Counter", "_id", "string", False, False),
    AddProperty("Counter", "value", "int?"),
    CreateObject("Counter", "c"),
    SetValue("Counter", "c", ("value",), 0),
)


def item(pk: int, name: str) -> list[Instruction]:
    return [CreateObject("Item", pk), SetValue("Item", pk, ("name",), name)]


def bump(counter: str = "c", delta: int = 1) -> list[Instruction]:
    return [AddInteger("Counter", counter, ("value",), delta)]


# ---------------------------------------------------------------------------- servers


class FakeClock:
    """Seconds since the epoch that move only when told (token expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.asynccontextmanager
async def running_server(
    data: Path, *, clock: Callable[[], float] = time.time, **overrides: Any
) -> AsyncIterator[Server]:
    config = ServerConfig(
        data_dir=data,
        port=0,
        admin_password=ADMIN_PASSWORD,
        scrypt_n=FAST_SCRYPT,
        state_delay=0.05,
        **overrides,
    )
    server = Server(config, out=open(os.devnull, "w"), clock=clock)  # noqa: SIM115
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


# ---------------------------------------------------------------------------- HTTP


async def call(
    url: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, json=body, headers=headers) as resp,
    ):
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def login(url: str, username: str, password: str) -> str:
    status, body = await call(
        url, "POST", "/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    return str(body["access_token"])


async def admin_token(url: str) -> str:
    return await login(url, "admin", ADMIN_PASSWORD)


async def make_user(url: str, admin: str, username: str, password: str = "pw") -> str:
    status, body = await call(
        url, "POST", "/admin/users", {"username": username, "password": password}, admin
    )
    assert status == 201, body
    return await login(url, username, password)


async def grant(url: str, admin: str, path: str, username: str, level: str) -> None:
    status, body = await call(
        url,
        "PUT",
        "/admin/permissions",
        {"path": path, "username": username, "level": level},
        admin,
    )
    assert status == 200, body


# ---------------------------------------------------------------------------- raw client


def ws_url(url: str) -> str:
    return url.replace("http", "ws", 1) + "/sync"


class Progress:
    """Wakes waiters when a raw client handled a frame, instead of polling
    (hundreds of clients polling would eat the CPU the test measures)."""

    def __init__(self) -> None:
        self.waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for event in self.waiters:
            event.set()


ANY_CLIENT = Progress()


async def until(
    check: Callable[[], bool],
    timeout: float = 10,
    what: str = "condition",
    progress: Progress = ANY_CLIENT,
) -> None:
    deadline = time.monotonic() + timeout
    event = asyncio.Event()
    progress.waiters.add(event)
    try:
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            event.clear()
            with contextlib.suppress(TimeoutError):
                # Also wake now and then: some conditions change without a frame.
                await asyncio.wait_for(event.wait(), min(left, 0.2))
    finally:
        progress.waiters.discard(event)


class RawClient:
    """One device syncing one realm through the raw sans-I/O client."""

    _clock = 0

    def __init__(
        self, url: str, token: str, path: str, name: str = "c", *, batched: bool = False
    ) -> None:
        self.url = url
        self.token = token
        self.path = path
        self.name = name
        self.history = ClientHistory()
        self.state = model.State()
        self.ws: WsConnection | None = None
        self.conn: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.session = 0
        self.bound = False
        self.server_version = 0
        self.caught_up = False
        self.acked = 0
        self.errors: list[SessionError | ConnectionFailed] = []
        self.closed = False
        self.applied = 0
        self.received_bytes = 0
        """Frame bytes received (downloads and all)."""
        self.progress = Progress()
        self.batched = batched
        """Upload like studio.sync.client: one upload in flight at a time
        (everything committed meanwhile goes in the next one). Otherwise every
        commit is uploaded at once, as ClientConnection.commit does."""
        self.in_flight = 0

    async def connect(self) -> RawClient:
        self.ws = await connect(
            ws_url(self.url),
            subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
            max_size=None,
            compression=None,
            open_timeout=30,
        )
        self.conn = ClientConnection()
        self.session += 1
        self.bound = False
        self.closed = False
        self.conn.bind(self.session, self.path, self.token, self.history)
        await self._send()
        self.reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _send(self) -> None:
        assert self.conn is not None and self.ws is not None
        for frame in self.conn.frames_to_send():
            await self.ws.send(frame)

    async def _read(self) -> None:
        assert self.ws is not None and self.conn is not None
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes)
                self.received_bytes += len(frame)
                events = self.conn.receive_message(frame, now_ms=int(time.time() * 1000))
                for event in events:
                    if isinstance(event, Bound):
                        self.bound = True
                        self.in_flight = self.history.latest_client_version
                    elif isinstance(event, RemoteChanges):
                        for changeset in event.changesets:
                            model.apply(self.state, changeset)
                            self.applied += 1
                    elif isinstance(event, UploadAcknowledged):
                        self.acked = event.client_version
                    elif isinstance(event, DownloadProgressed):
                        self.server_version = event.server_version
                        self.caught_up = event.caught_up
                    elif isinstance(event, SessionError | ConnectionFailed):
                        self.errors.append(event)
                self._upload_next()
                await self._send()
                self.progress.notify()
                ANY_CLIENT.notify()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.progress.notify()
            ANY_CLIENT.notify()

    def _next_time(self) -> int:
        RawClient._clock = max(RawClient._clock + 1, int(time.time() * 1000))
        return RawClient._clock

    async def commit(self, instructions: Iterable[Instruction], *, apply: bool = True) -> Changeset:
        """A local write: applied to the replica (unless not ``apply``: for
        changesets the model would refuse), queued, uploaded when bound."""
        instructions = tuple(instructions)
        if apply:
            model.apply(self.state, instructions)
        changeset = Changeset(
            self.history.client_file_ident,
            self.history.latest_client_version + 1,
            0,
            self._next_time(),
            instructions,
        )
        if self.conn is not None and not self.closed and not self.batched:
            queued = self.conn.commit(self.session, changeset)
            await self._send()
            return queued
        queued = self.history.add_local(changeset)
        if self.conn is not None and not self.closed:
            self._upload_next()
            await self._send()
        return queued

    def _upload_next(self) -> None:
        if not self.batched or not self.bound or self.closed or self.conn is None:
            return
        history = self.history
        if history.pending and history.last_acked_client_version >= self.in_flight:
            self.conn.upload_pending(self.session)
            self.in_flight = history.latest_client_version

    async def wait_bound(self, timeout: float = 10) -> None:
        await until(
            lambda: self.bound or bool(self.errors), timeout, f"{self.name} bound", self.progress
        )
        assert self.bound, self.errors

    async def wait_uploaded(self, timeout: float = 20) -> None:
        await until(
            lambda: not self.history.pending,
            timeout,
            f"{self.name} uploads acknowledged",
            self.progress,
        )

    async def wait_version(self, version: int, timeout: float = 20) -> None:
        await until(
            lambda: self.server_version >= version,
            timeout,
            f"{self.name} at {version}",
            self.progress,
        )

    async def sync(self, server_version: int | None = None, timeout: float = 20) -> None:
        await self.wait_uploaded(timeout)
        if server_version is not None:
            await self.wait_version(server_version, timeout)

    def canonical(self) -> Any:
        return model.canonical(self.state)

    def plain(self) -> dict[str, dict[Any, Any]]:
        return model.to_plain(self.state)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader
        if self.conn is not None:
            self.conn.connection_lost()

    def offline(self) -> None:
        """Forget the transport without a goodbye (simulates a dropped network)."""
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            self.ws.transport.abort()
        if self.conn is not None:
            self.conn.connection_lost()
        self.closed = True
