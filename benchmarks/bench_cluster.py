"""Several server processes on one PostgreSQL store: prints one JSON line.

Every server is a real process (``python -m studio.server --store DSN``,
each with a ``--data`` of its own); the clients are protocol-level clients
in this process (they upload and read acknowledgements and download
progress, and apply nothing, so the figures are the servers'). Measured
in one run:

- latency from a commit on a client of process A to a listener on process B
  (``cross``), p50 and p99; the same with both clients on one process on
  PostgreSQL (``pg_one``), and on one process on SQLite (``sqlite_one``);
  the samples of the three take turns, with the floor: a bare one-row
  ``INSERT`` committed on the same database (``pg_commit``), since every
  acknowledged commit waits for PostgreSQL's flush;
- changesets per second into one realm and into 10 realms with 1, 2 and 3
  processes (``--uploaders`` clients spread over them, each uploading
  batches of ``--batch`` and waiting for the acknowledgement), with the
  ratio to 1 process, and the CPU seconds each changeset cost the server
  processes and PostgreSQL (from /proc): the projection to 8 cores is
  ``8 / cpu_s_per_changeset`` when the work spreads over the processes
  (10 realms), bounded for one realm by the lease turns (one integrator
  at a time);
- seconds until sync resumes after SIGKILL of one of three processes: the
  time until every client of the killed process has an upload acknowledged
  by another one (clients reconnect to the next URL at once).

Without ``--dsn`` a private PostgreSQL is started from the ``pgserver``
package (the test extra) in a temporary directory.

Usage: python benchmarks/bench_cluster.py [--quick] [--pings N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import ClientConnection as WebSocket
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from studio.primitives.instructions import AddClass, AddProperty, Changeset, CreateObject, Set
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bind,
    Upload,
    UploadProgress,
    encode_message,
)

PASSWORD = "bench-admin-pw"
SCHEMA = (
    AddClass("Item", "_id", "int", False, False),
    AddProperty("Item", "name", "string?"),
    AddProperty("Item", "value", "double?"),
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids``, with that of their children that ended
    (PostgreSQL's ended backends count in the postmaster's)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
    return total


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    pids.append(int(entry.name))
    return pids


# --------------------------------------------------------------------------- processes


class Node:
    """One ``python -m studio.server`` process."""

    def __init__(self, data: Path, store: str | None) -> None:
        self.data = data
        self.store = store
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Node:
        args = [sys.executable, "-m", "studio.server", "--data", str(self.data), "--port", "0",
                "--admin-password", PASSWORD, "--log-level", "error",
                "--max-connections-per-address", "0"]  # fmt: skip
        if self.store is not None:
            args += ["--store", self.store]
        stderr = None if os.environ.get("BENCH_SERVER_STDERR") else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].strip()
                return self
        raise RuntimeError(f"server on {self.data} did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def nodes(tmp: Path, store: str | None, count: int, tag: str) -> Iterator[list[Node]]:
    started: list[Node] = []
    try:
        for n in range(count):
            started.append(Node(tmp / f"{tag}{n}", store).start())
        yield started
    finally:
        for node in started:
            node.stop()


def start_postgres(root: Path) -> tuple[str, Any]:
    os.chmod(root, 0o755)  # as root, pgserver runs the server as another user
    runtime = root / "run"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    server = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    socket = urllib.parse.parse_qs(urllib.parse.urlsplit(server.get_uri()).query)["host"][0]
    return f"host={socket} user=postgres dbname=postgres", server


def new_database(admin_dsn: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_dsn.replace("dbname=postgres", f"dbname={name}")


async def admin_token(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/auth/login", json={"username": "admin", "password": PASSWORD}) as r,
    ):
        body = await r.json()
    return str(body["access_token"])


# --------------------------------------------------------------------------- clients


class Peer:
    """A protocol-level client of one realm: uploads, reads acks and progress."""

    def __init__(self, url: str, token: str, path: str) -> None:
        self.url, self.token, self.path = url, token, path
        self.ws: WebSocket | None = None
        self.ident = 0
        self.salt = 0
        self.server_version = 0
        self.acked = 0
        self.client_version = 0
        self.closed = True
        self.changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> Peer:
        sync = self.url.replace("http", "ws", 1) + "/sync"
        self.ws = await connect(
            sync, subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)], compression=None,
            ping_interval=None, max_size=None, proxy=None, open_timeout=30,
        )  # fmt: skip
        self.closed = False
        self._bound = False
        bind = Bind(1, self.path, self.token, self.ident, client_file_salt=self.salt)
        await self.ws.send(encode_message(bind))
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))
        await self.wait(lambda: self._bound or self.closed)
        if self.closed:
            raise ConnectionError("the bind failed")
        return self

    async def _read(self, ws: WebSocket) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                raw = msgpack.unpackb(frame, raw=False)
                kind = raw.get("type")
                if kind == "ident":
                    self.ident = raw["client_file_ident"]
                    self.salt = raw.get("client_file_salt", 0) or 0
                    self._bound = True
                elif kind == "download":
                    self.server_version = max(
                        self.server_version, raw["progress"]["server_version"]
                    )
                    self.acked = max(self.acked, raw["upload_ack"])
                elif kind == "error":
                    break
                self.changed.set()
        self.closed = True
        self.changed.set()

    async def wait(self, check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"client of {self.url} timed out")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))

    async def upload(self, instructions: list[tuple[Any, ...]]) -> int:
        """Send one batch (a changeset per instruction tuple); returns the
        last client version sent."""
        assert self.ws is not None
        base = self.server_version
        now = int(time.time() * 1000)
        changesets = []
        for ins in instructions:
            self.client_version += 1
            changesets.append(Changeset(self.ident, self.client_version, base, now, ins))
        progress = UploadProgress(self.client_version, base)
        await self.ws.send(encode_message(Upload(1, tuple(changesets), progress)))
        return self.client_version

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader


def items(first: int, count: int) -> list[tuple[Any, ...]]:
    return [
        (
            CreateObject("Item", k),
            Set("Item", k, ("name",), f"item {k}"),
            Set("Item", k, ("value",), 0.5),
        )
        for k in range(first, first + count)
    ]


async def give_schema(url: str, token: str, path: str) -> None:
    peer = await Peer(url, token, path).connect()
    await peer.upload([SCHEMA])
    await peer.wait(lambda: peer.acked >= 1)
    await peer.close()


# --------------------------------------------------------------------------- measurements


class LatencyPair:
    """A writer and a listener on one realm: milliseconds from a commit sent
    by the writer to the listener's download of it."""

    def __init__(self, writer_url: str, listener_url: str, token: str, path: str) -> None:
        self.args = (writer_url, listener_url, token, path)
        self.samples: list[float] = []

    async def open(self) -> None:
        writer_url, listener_url, token, path = self.args
        await give_schema(writer_url, token, path)
        self.writer = await Peer(writer_url, token, path).connect()
        self.listener = await Peer(listener_url, token, path).connect()
        await self.listener.wait(lambda: self.listener.server_version >= 1)

    async def sample(self, k: int) -> None:
        writer, listener = self.writer, self.listener
        before = listener.server_version
        started = time.perf_counter()
        await writer.upload(items(1_000_000 + k, 1))
        await listener.wait(lambda: listener.server_version > before)
        self.samples.append((time.perf_counter() - started) * 1000)
        await writer.wait(lambda: writer.acked >= writer.client_version)

    async def close(self) -> None:
        for peer in (self.writer, self.listener):
            await peer.close()


async def throughput(
    urls: list[str], token: str, realms: list[str], uploaders: int, seconds: float, batch: int,
    pids: list[int],
) -> dict[str, float]:
    """Changesets per second from ``uploaders`` clients spread over ``urls``
    and ``realms``, and the CPU seconds per changeset of ``pids``."""
    for path in realms:
        await give_schema(urls[0], token, path)
    peers = [
        await Peer(urls[n % len(urls)], token, realms[n % len(realms)]).connect()
        for n in range(uploaders)
    ]
    for peer in peers:
        await peer.wait(lambda p=peer: p.server_version >= 1)
    cpu_before = cpu_seconds(pids)
    pg_before = cpu_seconds(postgres_pids())
    started = time.perf_counter()
    end = started + seconds

    async def run(n: int, peer: Peer) -> int:
        sent = 0
        while time.perf_counter() < end:
            version = await peer.upload(items((n + 1) * 10_000_000 + sent, batch))
            sent += batch
            await peer.wait(lambda v=version: peer.acked >= v or peer.closed)
            if peer.closed:
                raise RuntimeError(f"an uploader of {peer.url} was disconnected")
        return sent

    counts = await asyncio.gather(*(run(n, p) for n, p in enumerate(peers)))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before
    pg = cpu_seconds(postgres_pids()) - pg_before
    for peer in peers:
        await peer.close()
    total = sum(counts)
    return {
        "per_s": round(total / elapsed, 1),
        "server_cpu_ms_per_changeset": round(cpu / total * 1000, 4),
        "postgres_cpu_ms_per_changeset": round(pg / total * 1000, 4),
    }


async def resume_after_kill(
    nodes3: list[Node], token: str, path: str, clients: int, batch: int
) -> float:
    """Seconds from SIGKILL of ``nodes3[0]`` until each of its clients had an
    upload acknowledged by another process."""
    urls = [n.url for n in nodes3]
    await give_schema(urls[1], token, path)
    peers = [await Peer(urls[n % 3], token, path).connect() for n in range(clients)]
    stop = asyncio.Event()

    async def upload(n: int, peer: Peer) -> None:
        sent = 0
        turn = n % 3
        while not stop.is_set():
            if peer.closed:
                turn += 1
                peer.url = urls[turn % 3]
                with contextlib.suppress(OSError, ConnectionError):
                    await peer.connect()
                    # what was not acknowledged is sent again
                    peer.client_version = peer.acked
                continue
            version = await peer.upload(items((n + 1) * 10_000_000 + sent, batch))
            sent += batch
            with contextlib.suppress(TimeoutError):
                await peer.wait(lambda v=version: peer.acked >= v or peer.closed, 10)

    tasks = [asyncio.create_task(upload(n, p)) for n, p in enumerate(peers)]
    await asyncio.sleep(1.0)
    moved = [p for p in peers if p.url == urls[0]]
    acked = {id(p): p.acked for p in moved}
    killed = time.perf_counter()
    nodes3[0].kill()
    while not all(p.url != urls[0] and not p.closed and p.acked > acked[id(p)] for p in moved):
        await asyncio.sleep(0.005)
    resumed = time.perf_counter() - killed
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for peer in peers:
        await peer.close()
    return resumed


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, tmp: Path, admin_dsn: str) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "cluster", "python": platform.python_version(), "cpus": os.cpu_count(),
        "quick": args.quick, "parts": args.parts, "load_1min": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    parts = set(args.parts.split(","))
    if "latency" in parts:
        await measure_latency(args, tmp, admin_dsn, results)
    if "throughput" in parts:
        await measure_throughput(args, tmp, admin_dsn, results)
    if "kill" in parts:
        await measure_resume(args, tmp, admin_dsn, results)
    results["load_1min_end"] = round(os.getloadavg()[0], 2)
    results["targets"] = {"cross_latency_p50_ms": 10}
    return results


async def measure_latency(
    args: argparse.Namespace, tmp: Path, admin_dsn: str, results: dict[str, Any]
) -> None:
    store = new_database(admin_dsn, "latency")
    with nodes(tmp, store, 2, "lat") as pair, nodes(tmp, None, 1, "sqlite") as (lite,):
        token = await admin_token(pair[0].url)
        lite_token = await admin_token(lite.url)
        pairs = {
            "cross": LatencyPair(pair[0].url, pair[1].url, token, "/shared/latency-cross"),
            "pg_one": LatencyPair(pair[0].url, pair[0].url, token, "/shared/latency-one"),
            "sqlite_one": LatencyPair(lite.url, lite.url, lite_token, "/shared/latency"),
        }
        for measured in pairs.values():
            await measured.open()
        import psycopg

        # The floor: a bare one-row INSERT committed (flushed) on the same database.
        commits: list[float] = []
        with psycopg.connect(store, autocommit=True) as conn:
            conn.execute("SET synchronous_commit TO on")
            conn.execute("CREATE TABLE bench_floor (id BIGINT PRIMARY KEY, data BYTEA)")
            # Taking turns, sample by sample: a change of the machine's load
            # weighs on all of them alike.
            for k in range(args.pings):
                for measured in pairs.values():
                    await measured.sample(k)
                started = time.perf_counter()
                conn.execute("INSERT INTO bench_floor VALUES (%s, %s)", (k, b"x" * 200))
                commits.append((time.perf_counter() - started) * 1000)
        results["pg_commit_p50_ms"] = round(percentile(commits, 50), 2)
        results["pg_commit_p99_ms"] = round(percentile(commits, 99), 2)
        for name, measured in pairs.items():
            await measured.close()
            results[f"{name}_latency_p50_ms"] = round(percentile(measured.samples, 50), 2)
            results[f"{name}_latency_p99_ms"] = round(percentile(measured.samples, 99), 2)


async def measure_throughput(
    args: argparse.Namespace, tmp: Path, admin_dsn: str, results: dict[str, Any]
) -> None:
    throughput_runs: dict[str, dict[str, float]] = {}
    for processes in (1, 2, 3):
        store = new_database(admin_dsn, f"tp{processes}")
        with nodes(tmp, store, processes, f"tp{processes}-") as group:
            urls = [n.url for n in group]
            token = await admin_token(urls[0])
            pids = [n.pid for n in group]
            for realms in (1, 10):
                paths = [f"/shared/tp-{realms}-{r}" for r in range(realms)]
                uploaders = max(args.uploaders, realms)
                measured = await throughput(
                    urls, token, paths, uploaders, args.seconds, args.batch, pids
                )
                throughput_runs[f"{realms}_realms_{processes}_processes"] = measured
    for realms in (1, 10):
        one = throughput_runs[f"{realms}_realms_1_processes"]["per_s"]
        for processes in (1, 2, 3):
            run_ = throughput_runs[f"{realms}_realms_{processes}_processes"]
            key = f"changesets_per_s_{realms}_realm{'s' if realms > 1 else ''}_{processes}p"
            results[key] = run_["per_s"]
            results[f"{key}_ratio"] = round(run_["per_s"] / one, 2)
            results[f"{key}_server_cpu_ms"] = run_["server_cpu_ms_per_changeset"]
            results[f"{key}_postgres_cpu_ms"] = run_["postgres_cpu_ms_per_changeset"]
    # On paper: 8 cores busy with server processes and PostgreSQL, the
    # clients elsewhere; the CPU per changeset of the 3-process run (it
    # includes what the processes spend on each other).
    three = throughput_runs["10_realms_3_processes"]
    cpu = (three["server_cpu_ms_per_changeset"] + three["postgres_cpu_ms_per_changeset"]) / 1000
    results["projected_8_cores_10_realms_per_s"] = round(8 / cpu) if cpu > 0 else None


async def measure_resume(
    args: argparse.Namespace, tmp: Path, admin_dsn: str, results: dict[str, Any]
) -> None:
    resumes = []
    for k in range(args.kills):
        store = new_database(admin_dsn, f"kill{k}")
        with nodes(tmp, store, 3, f"kill{k}-") as three:
            token = await admin_token(three[0].url)
            resumes.append(await resume_after_kill(three, token, "/shared/kill", 6, 5))
    results["resume_after_sigkill_s"] = round(max(resumes), 3)
    results["resume_after_sigkill_s_each"] = [round(r, 3) for r in resumes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small configuration")
    parser.add_argument("--pings", type=int, default=None, help="latency samples (300)")
    parser.add_argument("--seconds", type=float, default=None, help="each throughput run (5 s)")
    parser.add_argument("--uploaders", type=int, default=6, help="clients uploading (6)")
    parser.add_argument("--batch", type=int, default=10, help="changesets per upload (10)")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILL runs (3)")
    parser.add_argument("--parts", default="latency,throughput,kill",
                        help="what to measure (latency,throughput,kill)")
    parser.add_argument("--dsn", help="an existing PostgreSQL (dbname=postgres), not a private one")
    args = parser.parse_args()
    args.pings = args.pings or (20 if args.quick else 300)
    args.seconds = args.seconds or (0.5 if args.quick else 5.0)
    args.kills = args.kills or (1 if args.quick else 3)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    pg: Any = None
    try:
        if args.dsn:
            admin_dsn = args.dsn
        else:
            (tmp / "pg").mkdir()
            admin_dsn, pg = start_postgres(tmp / "pg")
        results = asyncio.run(run(args, tmp, admin_dsn))
    finally:
        if pg is not None:
            pg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
