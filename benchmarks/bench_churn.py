"""Connection churn and slowloris benchmark: prints one JSON line.

The object server runs in its own process (``python -m studio.server``, the
production settings, its garbage collector thresholds included). Measured:

- the server's resident memory after each round of ``--connections``
  connections (each: open the /sync websocket, ping, wait for the pong,
  close; ``--parallel`` at a time), over ``--rounds`` rounds: a closed
  connection must be freed, so the last round ends where the first did;
- ``GET /health`` latency (p50, p99; a new TCP connection per request) on
  its own, then while ``--slowloris`` sockets each hold half a request open;
- clients that never read: ``--stuck`` sockets each bind and unbind a realm
  with a history of ``--history-kb`` KB ``--stuck-binds`` times without
  reading a byte; the server's resident memory they add and ``/health``
  latency meanwhile (a bind used to queue the whole history at once).

Usage: python benchmarks/bench_churn.py [--quick] [--rounds N] [--connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from studio.primitives.instructions import AddClass, AddProperty, Changeset, CreateObject, Set
from studio.sync.client_history import ClientHistory
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bind,
    Bound,
    ClientConnection,
    Ping,
    Pong,
    Unbind,
    decode_server_message,
)
from studio.sync.protocol import encode_message as encode

PASSWORD = "bench-admin-pw"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    stderr = None if os.environ.get("BENCH_SERVER_STDERR") else subprocess.DEVNULL
    args = [
        sys.executable, "-m", "studio.server", "--data", str(data), "--port", "0",
        "--admin-password", PASSWORD, "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            return proc, line.split()[-1]
    proc.kill()
    raise RuntimeError("the server did not start")


async def one_connection(url: str, n: int) -> None:
    async with connect(
        url, subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)], compression=None, proxy=None
    ) as ws:
        await ws.send(encode(Ping(n)))
        answer = decode_server_message(await ws.recv())
        assert answer == Pong(n), answer


async def churn_round(url: str, connections: int, parallel: int) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(n: int) -> None:
        async with gate:
            await one_connection(url, n)

    await asyncio.gather(*(one(n) for n in range(connections)))


async def health_latencies(url: str, samples: int) -> list[float]:
    out = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(samples):
            started = time.perf_counter()
            async with session.get(url + "/health") as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            out.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return out


async def slowloris(
    url: str, sockets: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Sockets that each send half a request and then nothing."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    held = []
    for _ in range(sockets):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\nUser-Agent: slow".encode())
        await writer.drain()
        held.append((reader, writer))
    return held


async def admin_token(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        body = {"username": "admin", "password": PASSWORD}
        async with session.post(url + "/auth/login", json=body) as resp:
            return str((await resp.json())["access_token"])


async def big_realm(ws_url: str, token: str, path: str, kilobytes: int) -> None:
    """Upload a history of about ``kilobytes`` KB (4 KB changesets) and wait
    until all of it is acknowledged."""
    conn, history = ClientConnection(), ClientHistory()
    async with connect(ws_url, subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)],
                       compression=None, proxy=None, max_size=None) as ws:  # fmt: skip
        conn.bind(1, path, token, history)
        for frame in conn.frames_to_send():
            await ws.send(frame)
        while not any(isinstance(e, Bound) for e in conn.receive_message(await ws.recv())):
            pass
        schema = (
            AddClass("Item", "_id", "int", False, False),
            AddProperty("Item", "name", "string?"),
        )
        bodies = [schema] + [
            (CreateObject("Item", n), Set("Item", n, ("name",), f"{n:06d}" + "x" * 4000))
            for n in range(max(1, kilobytes // 4))
        ]
        for n, instructions in enumerate(bodies):
            changeset = Changeset(
                history.client_file_ident, history.latest_client_version + 1, 0, n, instructions
            )
            conn.commit(1, changeset)
            for frame in conn.frames_to_send():
                await ws.send(frame)
        while history.pending:
            conn.receive_message(await ws.recv())


async def never_read(url: str, token: str, path: str, binds: int) -> asyncio.StreamWriter:
    """A websocket client (the handshake by hand) that binds and unbinds
    ``path`` ``binds`` times and never reads a byte of the answers."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /sync HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {WEBSOCKET_SUBPROTOCOL}\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.transport.pause_reading()
    for session in range(1, binds + 1):
        writer.write(masked(encode(Bind(session, path, token))))
        writer.write(masked(encode(Unbind(session))))
    await writer.drain()
    return writer


def masked(payload: bytes) -> bytes:
    """One binary websocket frame, masked as a client sends it."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 2**16:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    whole = mask * (size // 4 + 1)
    return head + mask + bytes(b ^ m for b, m in zip(payload, whole, strict=False))


async def stuck_clients(args: argparse.Namespace, pid: int, url: str) -> dict[str, object]:
    ws_url = url.replace("http", "ws", 1) + "/sync"
    token = await admin_token(url)
    path = "/shared/big"
    await big_realm(ws_url, token, path, args.history_kb)
    await asyncio.sleep(1.0)
    before = rss_mb(pid)
    # /health while they bind (a bind used to build every download at once).
    sampler = asyncio.ensure_future(health_latencies(url, args.health_samples))
    writers = [await never_read(url, token, path, args.stuck_binds) for _ in range(args.stuck)]
    latencies = await sampler
    await asyncio.sleep(1.0)
    after = rss_mb(pid)
    for writer in writers:
        writer.transport.abort()
    return {
        "stuck_clients": args.stuck,
        "stuck_binds": args.stuck_binds,
        "history_kb": args.history_kb,
        "stuck_rss_added_mb": round(after - before, 1),
        "stuck_health_p50_ms": round(percentile(latencies, 50), 2),
        "stuck_health_p99_ms": round(percentile(latencies, 99), 2),
    }


async def run(args: argparse.Namespace, pid: int, url: str) -> dict[str, object]:
    ws_url = url.replace("http", "ws", 1) + "/sync"
    await health_latencies(url, 5)  # warm up
    rss_start = rss_mb(pid)
    rss: list[float] = []
    started = time.perf_counter()
    for _ in range(args.rounds):
        await churn_round(ws_url, args.connections, args.parallel)
        await asyncio.sleep(0.3)  # let the server finish closing the last ones
        rss.append(round(rss_mb(pid), 1))
    churn_s = time.perf_counter() - started
    quiet = await health_latencies(url, args.health_samples)
    held = await slowloris(url, args.slowloris)
    await asyncio.sleep(0.2)
    slow_started = time.perf_counter()
    loaded = await health_latencies(url, args.health_samples)
    slow_s = time.perf_counter() - slow_started
    # Still held open by the server at the end, or dropped (a header timeout)?
    still_open = sum(1 for reader, _ in held if not reader.at_eof())
    for _, writer in held:
        writer.transport.abort()
    return {
        "rounds": args.rounds,
        "connections_per_round": args.connections,
        "parallel": args.parallel,
        "rss_start_mb": round(rss_start, 1),
        "rss_mb": rss,
        "rss_growth_after_first_pct": round((rss[-1] - rss[0]) / rss[0] * 100, 1),
        "connections_per_s": round(args.rounds * args.connections / churn_s, 1),
        "health_p50_ms": round(percentile(quiet, 50), 2),
        "health_p99_ms": round(percentile(quiet, 99), 2),
        "slowloris_sockets": args.slowloris,
        "slowloris_health_p50_ms": round(percentile(loaded, 50), 2),
        "slowloris_health_p99_ms": round(percentile(loaded, 99), 2),
        "slowloris_held_s": round(slow_s + 0.2, 1),
        "slowloris_still_open": still_open,
        "health_samples": args.health_samples,
        **(await stuck_clients(args, pid, url) if args.stuck else {}),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small configuration")
    p.add_argument("--rounds", type=int)
    p.add_argument("--connections", type=int, help="connections per round")
    p.add_argument("--parallel", type=int, default=50)
    p.add_argument("--slowloris", type=int, help="half-open requests held during /health")
    p.add_argument("--health-samples", type=int)
    p.add_argument("--stuck", type=int, help="clients that bind a big realm and never read")
    p.add_argument("--stuck-binds", type=int, help="binds (and unbinds) by each of them")
    p.add_argument("--history-kb", type=int, help="size of the big realm's history")
    args = p.parse_args()
    quick = args.quick
    args.rounds = args.rounds or (3 if quick else 20)
    args.connections = args.connections or (50 if quick else 1000)
    args.slowloris = args.slowloris if args.slowloris is not None else (20 if quick else 200)
    args.health_samples = args.health_samples or (10 if quick else 200)
    args.stuck = args.stuck if args.stuck is not None else (2 if quick else 5)
    args.stuck_binds = args.stuck_binds or (3 if quick else 20)
    args.history_kb = args.history_kb or (200 if quick else 2000)
    fds = raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="bench-churn-"))
    proc, url = start_server(tmp / "server")
    try:
        result = asyncio.run(run(args, proc.pid, url))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    result.update(
        {
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "fd_limit": fds,
            "python": platform.python_version(),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
