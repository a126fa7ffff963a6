"""Connections that come and go leave nothing behind: reference counting
alone frees a closed connection (the server's garbage collector settings
almost never run a full collection), and an idle peer that stops answering
is dropped by the server's own heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

from server_harness import SCHEMA, RawClient, admin_token, running_server, ws_url
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from studio.server import Limits
from studio.sync.protocol import WEBSOCKET_SUBPROTOCOL, Ping, Pong, decode_server_message
from studio.sync.protocol import encode_message as encode


@contextlib.contextmanager
def no_garbage_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _wait_dead(refs: list[weakref.ref[object]], timeout: float = 5) -> list[str]:
    """The names of the objects still alive after ``timeout`` (empty: all freed)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [type(obj).__name__ for r in refs if (obj := r()) is not None]
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.02)


def test_closed_connections_are_freed_without_the_garbage_collector(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            token = await admin_token(url)
            writer = await RawClient(url, token, "/shared/churn", "writer").connect()
            await writer.wait_bound()
            await writer.commit(SCHEMA)
            await writer.sync()
            ctx = server.ctx
            (writer_conn,) = ctx.connections.values()
            with no_garbage_collection():
                refs: list[weakref.ref[object]] = []
                for _ in range(5):
                    # Plain connect / ping / close ...
                    sockets = []
                    for n in range(20):
                        ws = await connect(
                            ws_url(url),
                            subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
                            compression=None,
                        )
                        await ws.send(encode(Ping(n)))
                        assert decode_server_message(await ws.recv()) == Pong(n)
                        sockets.append(ws)
                    # ... and connections with a bound session.
                    readers = [
                        await RawClient(url, token, "/shared/churn", f"r{n}").connect()
                        for n in range(5)
                    ]
                    for reader in readers:
                        await reader.wait_bound()
                    refs += [
                        weakref.ref(part)
                        for conn in ctx.connections.values()
                        if conn is not writer_conn
                        for part in (conn, conn.ws, conn.sc)
                    ]
                    for ws in sockets:
                        await ws.close()
                    for reader in readers:
                        await reader.close()
                    # Only the writer stays.
                    deadline = time.monotonic() + 5
                    while len(ctx.connections) > 1 and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    assert len(ctx.connections) == 1
                alive = await _wait_dead(refs)
                assert not alive, f"{len(alive)} objects of closed connections alive: {alive[:6]}"
            await writer.close()

    asyncio.run(body())


def test_a_peer_that_stops_answering_is_dropped(tmp_path: Path) -> None:
    async def body() -> None:
        limits = Limits(heartbeat=0.4)
        async with running_server(tmp_path, limits=limits) as server:
            ctx = server.ctx
            async with connect(
                ws_url(server.url),
                subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
                compression=None,
            ) as quiet:
                await quiet.send(encode(Ping(1)))
                assert decode_server_message(await quiet.recv()) == Pong(1)
                # An idle peer that answers pings stays (several heartbeats).
                await asyncio.sleep(1.5)
                assert len(ctx.connections) == 1
                # One that stops reading (its pongs never come) is dropped.
                quiet.transport.pause_reading()
                deadline = time.monotonic() + 5
                while ctx.connections and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert not ctx.connections

    asyncio.run(body())
