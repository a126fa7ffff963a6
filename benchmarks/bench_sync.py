"""Sync benchmark: prints one JSON line.

The object server runs in its own process (``python -m studio.server``); a raw
websocket echo server runs in another, as the physical limit of the network
path. Measured in one run:

- latency from a commit on client A to the listener on client B (two Apps with
  their own websockets, one realm; B in a process of its own, sync_latency.py),
  p50 and p99, next to the echo round trip and a raw SQLite commit with
  ``synchronous=FULL`` (the limits of the network and of the server's commit);
- changesets per second integrated into one realm from 10 clients uploading at
  once (protocol-level clients: each uploads batches of ``--batch`` changesets
  and waits for the acknowledgement, as the client library does when writes
  outpace the network, and does not apply the other clients' downloads
  locally, so the figure is the server's);
  also the same with 10 full ``App`` clients in this one process, which
  download and apply everyone's changes (so it is bounded by this process);
- idle connections (each bound to a realm) held by one server process, and
  its resident memory;
- time for a new client to download a realm of N objects (open_realm with
  wait_for_download until everything is applied locally);
- history compaction (sync_compaction.py): a new client's bootstrap of a realm
  of ``--compaction-changesets`` changesets over ``--compaction-objects``
  objects before and after compaction (time and bytes), and the compaction's
  own time.

Usage: python benchmarks/bench_sync.py [--quick] [--idle N] [--objects N]
       [--compaction-changesets N] [--compaction-objects N] [--only-compaction]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync_compaction import bench_compaction
from sync_latency import (
    bench_latency,
    listener_main,
    percentile,
    timeline_of,
)
from websockets.asyncio.client import ClientConnection as WebSocket
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from studio.primitives.instructions import Changeset, CreateObject, Set
from studio.sync import timeline
from studio.sync.client import App, SyncConfig, User
from studio.sync.protocol import (
    WEBSOCKET_SUBPROTOCOL,
    Bind,
    Upload,
    UploadProgress,
    encode_message,
)

PASSWORD = "bench-admin-pw"
SCHEMA = [
    {"name": "Ping", "primaryKey": "_id", "properties": {"_id": "int", "sent": "double"}},
    {
        "name": "Item",
        "primaryKey": "_id",
        "properties": {"_id": "int", "name": "string", "value": "double", "tag": "string"},
    },
]
NO_WATCH = SyncConfig(watch_files=False, reconnect_initial=0.05, reconnect_max=1.0)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads,
    or only ``thread``: the main thread's id is the pid)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    with open(path) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (e.g. the server's state worker)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(n) for n in fh.read().split())
    return out


def process_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of ``pid`` ("main"; "main_thread": its main thread,
    the server's event loop) and of its children, by kind:
    "state_worker" (the spawned pool process that keeps the state file) or
    "other" (e.g. multiprocessing's resource tracker)."""
    out = {"main": cpu_s(pid), "main_thread": cpu_s(pid, pid), "state_worker": 0.0, "other": 0.0}
    for child in child_pids(pid):
        with contextlib.suppress(OSError):
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                kind = "state_worker" if b"spawn_main" in fh.read() else "other"
            out[kind] += cpu_s(child)
    return out


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------- processes


def start_process(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start a child that prints ``listening on URL``; returns it and the URL."""
    # BENCH_SERVER_STDERR=1 shows the children's errors (silenced by default).
    stderr = None if os.environ.get("BENCH_SERVER_STDERR") else subprocess.DEVNULL
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on " in line:
            return proc, line.split("listening on ", 1)[1].strip()
    proc.kill()
    raise RuntimeError(f"{args} did not start")


async def echo_main() -> None:
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


# --------------------------------------------------------------------------- measurements


async def bench_echo(url: str, n: int) -> list[float]:
    payload = b"x" * 100
    out = []
    async with connect(url, compression=None, proxy=None) as ws:
        for i in range(n + 20):
            t0 = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            if i >= 20:
                out.append((time.perf_counter() - t0) * 1000)
    return out


class RawUploader:
    """A protocol-level client that uploads batches and only reads acks."""

    def __init__(self, ws: WebSocket, session: int, token: str, path: str) -> None:
        self.ws, self.session, self.token, self.path = ws, session, token, path
        self.ident = 0
        self.server_version = 0
        self.acked = 0
        self.downloads = 0
        self._changed = asyncio.Event()

    async def bind(self) -> None:
        await self.ws.send(encode_message(Bind(self.session, self.path, self.token)))
        asyncio.get_running_loop().create_task(self._read())
        while self.ident == 0:
            self._changed.clear()
            await self._changed.wait()

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                raw = msgpack.unpackb(frame, raw=False)
                kind = raw.get("type")
                if kind == "ident":
                    self.ident = raw["client_file_ident"]
                elif kind == "download":
                    self.downloads += 1
                    self.server_version = raw["progress"]["server_version"]
                    self.acked = max(self.acked, raw["upload_ack"])
                elif kind == "error":
                    raise RuntimeError(f"server error: {raw}")
                self._changed.set()

    async def upload_for(self, seconds: float, batch: int, key_base: int) -> int:
        """Upload batches (stop-and-wait on the ack) for ``seconds``; returns how many."""
        version = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            # Everything sent was acknowledged and everything downloaded "integrated":
            # the next batch is based on the last server version seen.
            base = self.server_version
            now = int(time.time() * 1000)
            changesets = []
            for _ in range(batch):
                version += 1
                key = key_base + version
                changesets.append(Changeset(self.ident, version, base, now, (
                    CreateObject("Item", key),
                    Set("Item", key, ("name",), f"item {key}"),
                    Set("Item", key, ("value",), key * 0.5),
                )))  # fmt: skip
            progress = UploadProgress(version, base)
            await self.ws.send(encode_message(Upload(self.session, tuple(changesets), progress)))
            while self.acked < version:
                self._changed.clear()
                await self._changed.wait()
        return version


async def create_schema(base: str, user: User, tmp: Path, path: str) -> None:
    """Give ``path`` its schema the way a real app does (the raw uploaders
    only create objects), so that the server's state file applies them."""
    app = App(base, config=NO_WATCH)
    realm = await app.open_realm(user, path, path=tmp / "schema.realm", schema=SCHEMA)
    await realm.sync_session.wait_for_upload_completion(60)
    await app.close()


async def bench_throughput(
    sync: str, token: str, clients: int, seconds: float, batch: int, server_pid: int
) -> dict[str, Any]:
    """Changesets per second into one realm from ``clients`` RawUploaders, and
    the CPU each process spent per changeset (comparable under load, where
    the rate is not): the server's main process, its state worker, and the
    clients (this process)."""
    sockets = [await _ws(sync) for _ in range(clients)]
    uploaders = [RawUploader(ws, 1, token, "/shared/throughput") for ws in sockets]
    for u in uploaders:
        await u.bind()
    cpu_before, cpu_clients = process_cpu(server_pid), time.process_time()
    downloads = sum(u.downloads for u in uploaders)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    counts = await asyncio.gather(
        *(u.upload_for(seconds, batch, (n + 1) * 10_000_000) for n, u in enumerate(uploaders))
    )
    elapsed = time.perf_counter() - start
    cpu_after, cpu_clients = process_cpu(server_pid), time.process_time() - cpu_clients
    downloads = sum(u.downloads for u in uploaders) - downloads
    for ws in sockets:
        await ws.close()
    n = sum(counts)

    def per_changeset(seconds: float) -> float:
        return round(seconds / n * 1e6, 1)

    return {
        "changesets_per_s": round(n / elapsed),
        "throughput_changesets": n,
        "throughput_load_avg_1m": round(load, 2),
        "throughput_server_cpu_us_per_changeset": per_changeset(
            cpu_after["main"] - cpu_before["main"]
        ),
        # The event loop's share (decode, merge, downloads, websocket I/O);
        # the rest of the process is the commit thread (SQLite) and the
        # threads feeding the state worker.
        "throughput_server_loop_cpu_us_per_changeset": per_changeset(
            cpu_after["main_thread"] - cpu_before["main_thread"]
        ),
        "throughput_state_worker_cpu_us_per_changeset": per_changeset(
            cpu_after["state_worker"] - cpu_before["state_worker"]
        ),
        "throughput_clients_cpu_us_per_changeset": per_changeset(cpu_clients),
        # Download messages (each with acks and/or others' changesets) per upload.
        "throughput_downloads_per_upload": round(downloads / (n / batch), 2),
        # How busy the server's process was: 1.0 is one core all the time.
        "throughput_server_cores": round((cpu_after["main"] - cpu_before["main"]) / elapsed, 2),
    }


async def bench_app_throughput(
    base: str, user: User, tmp: Path, clients: int, seconds: float
) -> float:
    apps = [App(base, config=NO_WATCH) for _ in range(clients)]
    realms = [
        await app.open_realm(
            user, "/shared/app-throughput", path=tmp / f"tp{n}.realm", schema=SCHEMA
        )
        for n, app in enumerate(apps)
    ]
    for realm in realms:
        await realm.sync_session.wait_for_download_completion(60)
    start = time.perf_counter()
    end = start + seconds
    count = 0
    while time.perf_counter() < end:
        for n, realm in enumerate(realms):
            key = n * 10_000_000 + count
            with realm.write():
                realm.create("Item", {"_id": key, "name": "x", "value": 1.0, "tag": "t"})
        count += 1
        await asyncio.sleep(0)  # let the sessions upload and apply downloads
    for realm in realms:
        await realm.sync_session.wait_for_upload_completion(120)
    elapsed = time.perf_counter() - start
    for app in apps:
        await app.close()
    return count * clients / elapsed


def bench_core_transaction(tmp: Path, n: int = 3000) -> dict[str, float]:
    """CPU per one-object write transaction: the core's (a realm that records
    history, as a synced one) next to raw sqlite3 ``BEGIN; INSERT; COMMIT`` in
    WAL with synchronous=NORMAL (the core's settings), and raw sqlite3 writing
    what a core commit writes (the object, its change-log row, its history row)."""
    from studio.core import Realm

    realm = Realm.open(tmp / "core-txn.realm", schema=SCHEMA, record_history=True)
    cpu = time.process_time()
    for key in range(n):
        with realm.write():
            realm.create("Item", {"_id": key, "name": "x", "value": 1.0, "tag": "t"})
    core = (time.process_time() - cpu) / n * 1e6
    realm.close()
    raw: dict[str, float] = {}
    for name, tables in (("one_table", False), ("three_tables", True)):
        conn = sqlite3.connect(tmp / f"raw-{name}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE item (k INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER UNIQUE,"
                     " name TEXT, value REAL, tag TEXT)")  # fmt: skip
        conn.execute("CREATE TABLE log (v INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)")
        conn.execute("CREATE TABLE hist (v INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)")
        cpu = time.process_time()
        for key in range(n):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO item (id, name, value, tag) VALUES (?, 'x', 1, 't')", (key,))
            if tables:
                conn.execute("INSERT INTO log (body) VALUES (?)", (f"[[{key}]]",))
                conn.execute("INSERT INTO hist (body) VALUES (?)", (f"[{key}]",))
            conn.execute("COMMIT")
        raw[name] = (time.process_time() - cpu) / n * 1e6
        conn.close()
    return {
        "core_txn_cpu_us": round(core, 1),
        "sqlite_txn_cpu_us": round(raw["one_table"], 1),
        "sqlite_txn_three_tables_cpu_us": round(raw["three_tables"], 1),
        "core_over_sqlite_txn": round(core / raw["one_table"], 1),
    }


async def a2a_reader_main(base: str, realm_path: str, path: str, n: int) -> None:
    """The reader App of ``bench_app_to_app`` in a process of its own: prints
    ``ready`` once bound and caught up, then when it has ``n`` Items a JSON line
    with that moment (epoch seconds) and its CPU seconds since ``ready``."""
    app = App(base, config=NO_WATCH)
    user = await app.login("admin", PASSWORD)
    realm = await app.open_realm(user, realm_path, path=Path(path), schema=SCHEMA)
    await realm.sync_session.wait_for_download_completion(60)
    items = realm.objects("Item")
    done = asyncio.get_running_loop().create_future()

    def on_change(results: Any, changes: Any) -> None:
        if len(results) >= n and not done.done():
            done.set_result(time.time())

    token = items.add_listener(on_change)
    print("ready", flush=True)
    cpu = time.process_time()
    done_at = await asyncio.wait_for(done, 300)
    print(json.dumps({"done_at": done_at, "cpu_s": time.process_time() - cpu}), flush=True)
    token.remove()
    await app.close()


async def bench_app_to_app_processes(
    base: str, user: User, tmp: Path, n: int, server_pid: int
) -> tuple[float, dict[str, float]]:
    """``bench_app_to_app`` with the reader App in its own process (as in the
    latency setup), so the writer's and the reader's CPU are measured apart."""
    writer_app = App(base, config=NO_WATCH)
    realm_path = "/shared/a2a-processes"
    a = await writer_app.open_realm(user, realm_path, path=tmp / "a2a-pw.realm", schema=SCHEMA)
    await a.sync_session.wait_for_download_completion(60)
    reader = subprocess.Popen(
        [sys.executable, __file__, "--a2a-reader", base, realm_path, str(tmp / "a2a-pr.realm"),
         str(n)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert reader.stdout is not None
    try:
        line = await asyncio.to_thread(reader.stdout.readline)
        assert line.strip() == "ready", line
        cpu_writer, cpu_server = time.process_time(), cpu_s(server_pid)
        start = time.time()
        for key in range(n):
            with a.write():
                a.create("Item", {"_id": key, "name": "x", "value": 1.0, "tag": "t"})
            await asyncio.sleep(0)
        await a.sync_session.wait_for_upload_completion(300)
        cpu_writer = time.process_time() - cpu_writer
        report = json.loads(await asyncio.to_thread(reader.stdout.readline))
        cpu_server = cpu_s(server_pid) - cpu_server
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            reader.wait(30)
        if reader.poll() is None:
            reader.kill()
    await writer_app.close()
    return n / (report["done_at"] - start), {
        "a2a_writer_cpu_us_per_changeset": round(cpu_writer / n * 1e6),
        "a2a_reader_cpu_us_per_changeset": round(report["cpu_s"] / n * 1e6),
        "a2a_server_cpu_us_per_changeset": round(cpu_server / n * 1e6),
    }


async def bench_app_to_app(
    base: str, user: User, tmp: Path, n: int, server_pid: int,
    counts: dict[str, Any] | None = None,
) -> tuple[float, dict[str, float]]:
    """One App commits ``n`` one-object transactions back to back (yielding to
    the loop between them, as an app does); returns changesets per second until
    another App (its own websocket, same process) has them all applied."""
    writer_app, reader_app = App(base, config=NO_WATCH), App(base, config=NO_WATCH)
    a = await writer_app.open_realm(user, "/shared/a2a", path=tmp / "a2a-w.realm", schema=SCHEMA)
    b = await reader_app.open_realm(user, "/shared/a2a", path=tmp / "a2a-r.realm", schema=SCHEMA)
    await a.sync_session.wait_for_download_completion(60)
    await b.sync_session.wait_for_download_completion(60)
    items = b.objects("Item")
    done = asyncio.get_running_loop().create_future()

    def on_change(results: Any, changes: Any) -> None:
        if len(results) >= n and not done.done():
            done.set_result(None)

    token = items.add_listener(on_change)
    recorder = timeline.Timeline() if counts is not None else None
    timeline.install(recorder)
    cpu_clients, cpu_server = time.process_time(), cpu_s(server_pid)
    start = time.perf_counter()
    for key in range(n):
        with a.write():
            a.create("Item", {"_id": key, "name": "x", "value": 1.0, "tag": "t"})
        await asyncio.sleep(0)
    await asyncio.wait_for(done, 300)
    elapsed = time.perf_counter() - start
    cpu = {
        # CPU per changeset does not depend on how loaded the machine is.
        "a2a_clients_cpu_us_per_changeset": round((time.process_time() - cpu_clients) / n * 1e6),
        "a2a_server_cpu_us_per_changeset": round((cpu_s(server_pid) - cpu_server) / n * 1e6),
    }
    timeline.install(None)
    if counts is not None and recorder is not None:
        ident_a, ident_b = a.sync_session.client_file_ident, b.sync_session.client_file_ident
        stages = [(m.stage, m.key) for m in recorder.marks]
        counts["a2a_uploads"] = stages.count(("client.upload_encode", ident_a))
        counts["a2a_acks_received"] = stages.count(("client.frame_received", ident_a))
        counts["a2a_downloads_received"] = stages.count(("client.frame_received", ident_b))
    token.remove()
    await writer_app.close()
    await reader_app.close()
    return n / elapsed, cpu


async def _ws(url: str) -> WebSocket:
    return await connect(
        url, subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)], compression=None,
        ping_interval=None, max_size=None, proxy=None, open_timeout=60,
    )  # fmt: skip


async def bench_idle(sync: str, token: str, n: int, server_pid: int) -> dict[str, float]:
    before = rss_mb(server_pid)
    sockets: list[WebSocket] = []
    semaphore = asyncio.Semaphore(100)

    async def one() -> None:
        async with semaphore:
            ws = await _ws(sync)
            await ws.send(encode_message(Bind(1, "/shared/idle", token)))
            await ws.recv()  # ident
            sockets.append(ws)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    connect_s = time.perf_counter() - start
    await asyncio.sleep(2)
    held = rss_mb(server_pid)
    alive = sum(1 for ws in sockets if ws.state.name == "OPEN")
    for chunk in range(0, len(sockets), 500):
        await asyncio.gather(*(ws.close() for ws in sockets[chunk : chunk + 500]))
    return {
        "idle_connections": alive,
        "idle_server_rss_mb": round(held, 1),
        "idle_server_rss_before_mb": round(before, 1),
        "idle_kb_per_connection": round((held - before) * 1024 / max(alive, 1), 1),
        "idle_connect_s": round(connect_s, 2),
    }


async def bench_download(base: str, user: User, tmp: Path, objects: int) -> dict[str, float]:
    writer_app = App(base, config=NO_WATCH)
    writer = await writer_app.open_realm(user, "/shared/big", path=tmp / "big-w.realm",
                                         schema=SCHEMA)  # fmt: skip
    per = 1000
    start = time.perf_counter()
    for first in range(0, objects, per):
        with writer.write():
            for key in range(first, min(objects, first + per)):
                writer.create(
                    "Item", {"_id": key, "name": f"item {key}", "value": key * 0.5, "tag": "t"}
                )
        await asyncio.sleep(0)
    await writer.sync_session.wait_for_upload_completion(600)
    upload_s = time.perf_counter() - start
    await writer_app.close()
    reader_app = App(base, config=NO_WATCH)
    start = time.perf_counter()
    reader = await reader_app.open_realm(
        user, "/shared/big", path=tmp / "big-r.realm", wait_for_download=True, timeout=600
    )
    download_s = time.perf_counter() - start
    count = len(reader.objects("Item"))
    await reader_app.close()
    assert count == objects, (count, objects)
    return {"download_s": round(download_s, 2), "download_objects": count,
            "download_upload_s": round(upload_s, 2)}  # fmt: skip


# --------------------------------------------------------------------------- main


@contextlib.asynccontextmanager
async def processes(tmp: Path) -> AsyncIterator[tuple[subprocess.Popen[str], str, str]]:
    server, base = start_process([
        sys.executable, "-m", "studio.server", "--data", str(tmp / "server"), "--port", "0",
        "--admin-password", PASSWORD, "--log-level", "error",
        "--max-connections-per-address", "0",  # thousands of idle clients from loopback
    ])  # fmt: skip
    os.environ.pop("STUDIO_SYNC_TIMELINE", None)  # the server's only
    echo, echo_url = start_process([sys.executable, __file__, "--echo-server"])
    try:
        yield server, base, echo_url
    finally:
        for proc in (server, echo):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fd_limit = raise_fd_limit()
    idle = min(args.idle, max(0, fd_limit - 200))
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    # The server writes a line per mark: in memory where there is a tmpfs, as
    # on the disk its appends would join the journal commits of its fsyncs.
    shm = Path("/dev/shm")
    timeline_file = str(
        Path(tempfile.mkdtemp(prefix="bench-sync-timeline-", dir=shm if shm.is_dir() else tmp))
        / "timeline.txt"
    )
    results: dict[str, Any] = {"benchmark": "sync", "python": platform.python_version(),
                               "cpus": os.cpu_count(), "quick": args.quick}  # fmt: skip
    try:
        if args.compaction_changesets:
            results.update(await bench_compaction(
                start_process, PASSWORD, tmp, args.compaction_changesets, args.compaction_objects
            ))  # fmt: skip
        if args.only_compaction:
            return results
        if args.timeline:
            os.environ["STUDIO_SYNC_TIMELINE"] = timeline_file
        async with processes(tmp) as (server, base, echo_url):
            app = App(base, config=NO_WATCH)
            user = await app.login("admin", PASSWORD)
            sync = app.sync_url
            parts = set(args.parts.split(","))
            results["parts"] = sorted(parts)
            results["load_avg_1m"] = round(os.getloadavg()[0], 2)
            echo = await bench_echo(echo_url, args.pings)
            results["echo_rtt_p50_ms"] = round(percentile(echo, 50), 3)
            results["echo_rtt_p99_ms"] = round(percentile(echo, 99), 3)
            if "latency" in parts:
                trace: dict[str, Any] | None = {} if args.timeline else None
                figures = await bench_latency(
                    base, user, tmp, args.pings, NO_WATCH, PASSWORD, SCHEMA,
                    lambda: cpu_s(server.pid), trace,
                )  # fmt: skip
                if trace is not None:
                    server_marks = timeline.read_marks(timeline_file)
                    results["timeline"] = timeline_of(trace, server_marks)
                results.update(figures)
            token = await user.access_token_for_use()
            if "throughput" in parts:
                await create_schema(base, user, tmp, "/shared/throughput")
                results.update(
                    await bench_throughput(sync, token, 10, args.seconds, args.batch, server.pid)
                )
                results["throughput_batch"] = args.batch
            if "a2a" in parts:
                counts: dict[str, Any] | None = {} if args.timeline else None
                rate, cpu = await bench_app_to_app(
                    base, user, tmp, args.app_to_app, server.pid, counts
                )
                results["app_to_app_changesets_per_s"] = round(rate)
                results.update(cpu)
                results.update(counts or {})
                results["app_to_app_transactions"] = args.app_to_app
                results.update(bench_core_transaction(tmp))
            if "a2a-processes" in parts:
                rate, cpu = await bench_app_to_app_processes(
                    base, user, tmp, args.app_to_app, server.pid
                )
                results["app_to_app_processes_changesets_per_s"] = round(rate)
                results.update(cpu)
            if "app" in parts:
                results["app_changesets_per_s"] = round(
                    await bench_app_throughput(base, user, tmp, 10, args.seconds)
                )
            if "download" in parts:
                results.update(await bench_download(base, user, tmp, args.objects))
            if idle and "idle" in parts:
                token = await user.access_token_for_use()
                results.update(await bench_idle(sync, token, idle, server.pid))
            results["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
            results["server_rss_mb"] = round(rss_mb(server.pid), 1)
            await app.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(Path(timeline_file).parent, ignore_errors=True)
    # Issue 21's targets (same machine, same run as the echo).
    results["targets"] = {"latency_p50_ms": 1, "latency_p99_ms": 5, "changesets_per_s": 20000,
                          "app_to_app_changesets_per_s": 5000, "idle_connections": 20000,
                          "idle_server_rss_mb": 1024, "download_s_100k": 5}  # fmt: skip
    results["fd_limit"] = fd_limit
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small configuration (~30 s)")
    parser.add_argument("--idle", type=int, default=None, help="idle connections (10000)")
    parser.add_argument("--objects", type=int, default=None, help="objects to download (100000)")
    parser.add_argument("--pings", type=int, default=None, help="latency samples (500)")
    parser.add_argument("--seconds", type=float, default=None, help="throughput run (5 s)")
    parser.add_argument("--parts", default="latency,throughput,a2a,app,download,idle",
                        help="comma-separated parts to run (all; the echo always runs; "
                        "a2a-processes: the a2a run with the reader App in its own process)")
    parser.add_argument("--timeline", action="store_true",
                        help="per-stage times of the latency pings (wall and CPU ms)")
    parser.add_argument("--uploads-in-flight", type=int, default=None,
                        help="the Apps' max_uploads_in_flight (the SyncConfig default)")
    parser.add_argument("--app-to-app", type=int, default=10_000,
                        help="one-object transactions of the App -> App run (10000)")
    parser.add_argument("--batch", type=int, default=10, help="changesets per upload (10)")
    parser.add_argument("--compaction-changesets", type=int, default=None,
                        help="changesets of the compaction realm (100000; 0: skip that part)")
    parser.add_argument("--compaction-objects", type=int, default=None,
                        help="objects of the compaction realm (10000)")
    parser.add_argument("--only-compaction", action="store_true",
                        help="run only the history compaction part")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency-listener", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--a2a-reader", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.uploads_in_flight is not None:
        global NO_WATCH
        NO_WATCH = dataclasses.replace(NO_WATCH, max_uploads_in_flight=args.uploads_in_flight)
    if args.echo_server:
        asyncio.run(echo_main())
        return
    if args.latency_listener:
        base, directory = args.latency_listener
        asyncio.run(listener_main(base, PASSWORD, directory, NO_WATCH, SCHEMA))
        return
    if args.a2a_reader:
        base, realm_path, path, n = args.a2a_reader
        asyncio.run(a2a_reader_main(base, realm_path, path, int(n)))
        return
    defaults = (
        (1000, 10_000, 100, 2.0, 10_000, 1000)
        if args.quick
        else (10_000, 100_000, 500, 5.0, 100_000, 10_000)
    )
    names = ("idle", "objects", "pings", "seconds", "compaction_changesets", "compaction_objects")
    for name, value in zip(names, defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
