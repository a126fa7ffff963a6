"""Bad input and limits end the offending connection only."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import msgpack
from server_harness import SCHEMA, RawClient, admin_token, call, item, running_server, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from studio.server import Limits
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bind,
    Error,
    ErrorCode,
    Ping,
    Pong,
    Upload,
    UploadProgress,
    decode_server_message,
    encode_message,
)

PATH = "/shared/limits"
LIMITS = Limits(max_message_size=64 * 1024, max_sessions=3, first_message_timeout=0.5)


async def exchange(
    url: str, *frames: bytes | str, protocol: str | None = WEBSOCKET_SUBPROTOCOL, probe: bool = True
) -> tuple[list[Any], bool]:
    """Send frames on a raw websocket, then a ping (when ``probe``: its pong
    says the server handled everything before it and kept the connection).
    Returns the decoded answers and whether the server closed the connection."""
    if probe:
        frames = (*frames, encode_message(Ping(424242)))
    answers: list[Any] = []
    protocols = [Subprotocol(protocol)] if protocol else None
    async with connect(ws_url(url), subprotocols=protocols, max_size=None, compression=None) as ws:
        for frame in frames:
            try:
                await ws.send(frame)
            except ConnectionClosed:
                break
        try:
            while True:
                data = await asyncio.wait_for(ws.recv(), 20)
                assert isinstance(data, bytes)
                answers.append(decode_server_message(data))
                if probe and answers[-1] == Pong(424242):
                    return answers[:-1], False
        except ConnectionClosed:
            return answers, True
        except TimeoutError:
            return answers, False


def connection_error(answers: list[Any]) -> Error:
    errors = [a for a in answers if isinstance(a, Error) and a.session is None]
    assert errors, answers
    return errors[-1]


def test_bad_frames_close_only_that_connection(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            token = await admin_token(url)
            good = await RawClient(url, token, PATH, "good").connect()
            await good.wait_bound()
            await good.commit(SCHEMA)
            await good.sync()
            watcher = await RawClient(url, token, PATH, "watcher").connect()
            await watcher.wait_bound()

            cases: list[tuple[list[bytes | str], int]] = [
                ([b"\xc1\xc1garbage"], ErrorCode.BAD_SYNTAX),
                (["a text frame"], ErrorCode.BAD_SYNTAX),
                ([msgpack.packb([1, 2, 3])], ErrorCode.BAD_SYNTAX),
                ([msgpack.packb({"type": "hello", "session": 1})], ErrorCode.UNKNOWN_MESSAGE),
                ([msgpack.packb({"type": "ping", "timestamp": "noon"})], ErrorCode.BAD_SYNTAX),
                (
                    [
                        msgpack.packb(
                            {
                                "type": "bind",
                                "session": "x",
                                "path": PATH,
                                "token": token,
                                "client_file_ident": 0,
                                "cursors": {"server_version": 0, "client_version": 0},
                            }
                        )
                    ],
                    ErrorCode.BAD_SYNTAX,
                ),
                (
                    [encode_message(Upload(5, (), UploadProgress(0, 0)))],
                    ErrorCode.BAD_SESSION_IDENT,
                ),
                ([b"\x00" * (LIMITS.max_message_size + 1)], ErrorCode.LIMITS_EXCEEDED),
                (
                    [encode_message(Bind(n, f"/~/r{n}", token)) for n in range(1, 5)],
                    ErrorCode.LIMITS_EXCEEDED,
                ),
            ]
            for n, (frames, code) in enumerate(cases):
                answers, closed = await exchange(url, *frames)
                assert closed, (n, answers)
                assert connection_error(answers).code == code, (n, answers)
                # ... while the others keep syncing.
                await good.commit(item(n, f"during case {n}"))
                await good.sync()
                await asyncio.wait_for(_converged(good, watcher), 10)

            # Nothing at all within the deadline.
            answers, closed = await exchange(url, probe=False)
            assert closed and connection_error(answers).code == ErrorCode.CONNECTION_CLOSED
            # A client that only speaks another protocol version.
            answers, closed = await exchange(url, protocol="studio-sync.99")
            assert closed and connection_error(answers).code == ErrorCode.WRONG_PROTOCOL_VERSION
            # A ping is answered and the connection stays.
            answers, closed = await exchange(url, encode_message(Ping(7)))
            assert not closed and answers == [Pong(7)]

            _, metrics = await call(url, "GET", "/metrics")
            assert 'studio_errors_total{code="bad_syntax"} 5' in metrics
            status, _ = await call(url, "GET", "/health")
            assert status == 200
            await good.close()
            await watcher.close()

    asyncio.run(body())


async def _converged(a: RawClient, b: RawClient) -> None:
    while a.canonical() != b.canonical():
        await asyncio.sleep(0.01)


def _mutations(rng: random.Random, token: str) -> list[bytes]:
    """Random bytes, and valid frames with random bytes flipped, cut or appended."""
    valid = [
        encode_message(Bind(1, PATH, token)),
        encode_message(Ping(123)),
        encode_message(Upload(1, (), UploadProgress(0, 0))),
        msgpack.packb({"type": "mark", "session": 1, "request_id": 1}),
    ]
    frames: list[bytes] = []
    for _ in range(60):
        choice = rng.random()
        if choice < 0.3:
            frames.append(rng.randbytes(rng.randint(1, 200)))
        else:
            base = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 4)):
                kind = rng.random()
                pos = rng.randrange(len(base))
                if kind < 0.5:
                    base[pos] = rng.randrange(256)
                elif kind < 0.75:
                    del base[pos:]
                    base = base or bytearray(b"\x90")
                else:
                    base[pos:pos] = rng.randbytes(rng.randint(1, 8))
            frames.append(bytes(base))
    return frames


def test_fuzz_random_bytes_into_sync(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            token = await admin_token(url)
            good = await RawClient(url, token, PATH, "good").connect()
            await good.wait_bound()
            await good.commit(SCHEMA)
            rng = random.Random(20240501)
            frames = _mutations(rng, token)
            outcomes = {"closed": 0, "open": 0}

            async def one(frame: bytes) -> None:
                answers, closed = await exchange(url, frame)
                outcomes["closed" if closed else "open"] += 1
                if closed:
                    assert connection_error(answers).code in {int(c) for c in ErrorCode}

            for start in range(0, len(frames), 15):
                await asyncio.gather(*(one(f) for f in frames[start : start + 15]))
                await good.commit(item(start, "still here"))
                await good.sync()
            assert outcomes["closed"] > 30
            status, health = await call(url, "GET", "/health")
            assert status == 200 and health["status"] == "ok"
            await good.close()

    asyncio.run(body())
