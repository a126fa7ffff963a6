"""A big history is streamed as the client reads: a client that never reads
makes the server queue a window's worth of bytes, not the whole history;
the server-wide budget bounds all queues together and closes the client
stalled longest when it stays spent; a client that reads gets everything."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from pathlib import Path

from server_harness import SCHEMA, RawClient, admin_token, call, item, running_server

from studio.server import Limits
from studio.server.app import Server
from studio.sync.protocol import WEBSOCKET_SUBPROTOCOL, Bind, encode_message

PATH = "/shared/big"
WINDOW = 64 * 1024
MESSAGE = 1  # changesets per download message: about 40 KB


async def _big_realm(url: str, token: str, changesets: int = 200) -> RawClient:
    """About 40 KB per changeset: 8 MB of history, more than the kernel's
    socket buffers take in for a client that does not read."""
    writer = await RawClient(url, token, PATH, "writer").connect()
    await writer.wait_bound()
    await writer.commit(SCHEMA)
    for n in range(changesets):
        await writer.commit(
            [i for k in range(10) for i in item(n * 10 + k, f"{n}-{k}-" + "x" * 4000)]
        )
    await writer.sync(timeout=60)
    return writer


class NeverReads:
    """A websocket client that binds and then never reads a byte: the
    handshake by hand on a plain socket with a small receive buffer."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None

    async def bind(self, url: str, token: str, sessions: int = 1) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connecting: the receive window is agreed on then.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
        self.writer = writer
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /sync HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {WEBSOCKET_SUBPROTOCOL}"
                "\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        for n in range(1, sessions + 1):
            writer.write(_masked(encode_message(Bind(n, PATH, token))))
        await writer.drain()
        writer.transport.pause_reading()  # and never read again

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


def _masked(payload: bytes) -> bytes:
    """One binary websocket frame, masked as a client must send it."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 2**16:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


async def _health_ms(url: str) -> float:
    started = time.perf_counter()
    status, _ = await call(url, "GET", "/health")
    assert status == 200
    return (time.perf_counter() - started) * 1000


async def _watch_queues(server: Server, seconds: float) -> tuple[int, int]:
    """The most bytes queued for one connection, and for all, over ``seconds``."""
    ctx = server.ctx
    most_one = most_all = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        queued = [c.queued_bytes for c in ctx.connections.values()]
        most_one = max([most_one, *queued])
        most_all = max(most_all, sum(queued))
        await asyncio.sleep(0.01)
    return most_one, most_all


def test_a_client_that_never_reads_gets_a_window_not_the_history(tmp_path: Path) -> None:
    async def body() -> None:
        limits = Limits(download_window=WINDOW, max_download_changesets=MESSAGE, send_stall=60)
        async with running_server(tmp_path, limits=limits) as server:
            url = server.url
            token = await admin_token(url)
            writer = await _big_realm(url, token)
            history_bytes = sum(c.bytes_in for c in server.ctx.connections.values())
            assert history_bytes > 8_000_000
            stuck = [NeverReads() for _ in range(5)]
            for client in stuck:
                await client.bind(url, token)
            most_one, most_all = await _watch_queues(server, 2.0)
            # A window plus the message that crossed it (about 40 KB).
            assert 0 < most_one <= WINDOW + 60_000, most_one
            assert most_all <= 5 * (WINDOW + 60_000), most_all
            assert server.ctx.outbound.peak <= 5 * (WINDOW + 60_000) + 100_000
            # Operators see what waits for clients in /metrics.
            status, text = await call(url, "GET", "/metrics")
            assert status == 200
            (line,) = [x for x in text.splitlines() if x.startswith("studio_outbound_bytes ")]
            assert 0 < float(line.split()[1]) <= 5 * (WINDOW + 60_000) + 100_000, line
            # /health is not slowed down by them.
            latencies = sorted([await _health_ms(url) for _ in range(10)])
            assert latencies[-1] < 500, latencies
            # A client that reads downloads the whole realm, correctly.
            reader = await RawClient(url, token, PATH, "reader").connect()
            await reader.wait_bound()
            await reader.wait_version(writer.server_version, timeout=60)
            assert reader.canonical() == writer.canonical()
            for client in stuck:
                client.close()
            await reader.close()
            await writer.close()

    asyncio.run(body())


def test_the_server_wide_budget_closes_the_client_stalled_longest(tmp_path: Path) -> None:
    async def body() -> None:
        limits = Limits(
            download_window=WINDOW,
            max_download_changesets=MESSAGE,
            max_server_outbound_bytes=3 * WINDOW,
            send_stall=1.0,
        )
        async with running_server(tmp_path, limits=limits) as server:
            url = server.url
            token = await admin_token(url)
            writer = await _big_realm(url, token)
            ctx = server.ctx
            stuck = [NeverReads() for _ in range(5)]
            for client in stuck:
                await client.bind(url, token)
            _, most_all = await _watch_queues(server, 0.5)
            # The budget, plus at most one message per connection that crossed it.
            assert most_all <= 3 * WINDOW + 5 * 60_000, most_all
            # Clients that read still get everything: the stalled ones are
            # closed one after the other (longest stalled first) to make room.
            reader = await RawClient(url, token, PATH, "reader").connect()
            await reader.wait_bound()
            await reader.wait_version(writer.server_version, timeout=60)
            assert reader.canonical() == writer.canonical()
            assert len(ctx.connections) < 2 + 5  # some of the stuck ones are gone
            for client in stuck:
                client.close()
            await reader.close()
            await writer.close()

    asyncio.run(body())
