"""The latency part of bench_sync.py: a commit on client A to the listener on
client B, three processes on loopback (A in the benchmark's process, the
server, B in a child process of its own), as issue 21 measures it.

B runs in its own process so that nothing of A's (its handling of its own
acknowledgement is a write transaction) sits in front of B's download. The
child (``python bench_sync.py --latency-listener``) logs in, opens the realm,
says ``ready`` and then reports, one JSON line on its stdout per ping, when
its listener saw it; ``perf_counter`` is CLOCK_MONOTONIC on Linux, so its
times compare with this process's. With ``--timeline`` it records its marks
in memory and sends them when told to stop.

Also here, sampled between the pings as the physical limit of the server's
commit stage (:class:`RawLimits`): a raw ``sqlite3`` transaction inserting one
120-byte row in WAL mode with ``synchronous=FULL`` (what the server's append
is at least), and a write + ``fdatasync`` of 120 bytes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.sync import timeline
from studio.sync.client import App, SyncConfig, User

REALM = "/shared/latency"
WARMUP = 20
"""Pings before the measured ones (connections, caches and the first
transactions warm up)."""

# --------------------------------------------------------------------------- raw limits


class RawLimits:
    """The physical limit of the server's commit stage on the same disk:
    ``BEGIN; INSERT one 120-byte row; COMMIT`` in WAL mode with
    ``synchronous=FULL`` (the commit fsyncs the WAL), and an append of 120
    bytes to a file with its ``fdatasync``. Sampled between the pings, so
    that they see the same disk (shared with whatever else runs) as the
    server's commits."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._db = directory / "raw-commit.sqlite"
        self._conn = sqlite3.connect(str(self._db), isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        self._file = directory / "raw-fsync.bin"
        self._fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._payload = os.urandom(120)
        self._rows = 0
        self.sqlite: list[float] = []
        self.fdatasync: list[float] = []

    def sample(self, keep: bool = True) -> None:
        self._rows += 1
        t0 = time.perf_counter()
        self._conn.execute("BEGIN")
        self._conn.execute("INSERT INTO t VALUES (?, ?)", (self._rows, self._payload))
        self._conn.execute("COMMIT")
        t1 = time.perf_counter()
        os.write(self._fd, self._payload)
        os.fdatasync(self._fd)
        t2 = time.perf_counter()
        if keep:
            self.sqlite.append((t1 - t0) * 1000)
            self.fdatasync.append((t2 - t1) * 1000)

    def close(self) -> None:
        self._conn.close()
        os.close(self._fd)
        for path in (self._file, self._db, Path(f"{self._db}-wal"), Path(f"{self._db}-shm")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# --------------------------------------------------------------------------- the timeline


def stage_timeline(
    sources: list[tuple[list[timeline.Mark], Callable[[timeline.Mark], tuple[str, str]]]],
    windows: list[tuple[float, float]],
) -> list[dict[str, Any]]:
    """Per ping (a window from commit to listener), the marks of every process
    in wall-clock order; per stage, the median gap from the mark before it
    (wall ms, and CPU ms of the thread when both marks are on one thread).

    ``sources``: each process's marks, with a function giving a mark's label
    and the thread it was taken on (CPU times compare only within a thread)."""
    tagged = [(m, *describe(m)) for marks, describe in sources for m in marks]
    tagged.sort(key=lambda t: t[0].wall)
    walls = [t[0].wall for t in tagged]
    gaps: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    order: dict[str, float] = {}
    for start, end in windows:
        lo, hi = bisect.bisect_left(walls, start), bisect.bisect_right(walls, end)
        seen: set[str] = set()
        prev: tuple[timeline.Mark, str, str] | None = None
        for i, item in enumerate(tagged[lo:hi]):
            mark, label, thread = item
            if label in seen:
                continue
            seen.add(label)
            order.setdefault(label, 0.0)
            order[label] += i
            if prev is not None:
                gaps.setdefault(label, []).append((mark.wall - prev[0].wall) * 1000)
                if prev[2] == thread:
                    cpus.setdefault(label, []).append((mark.cpu - prev[0].cpu) * 1000)
            prev = item
            if label == "listener":
                break
    out = []
    for label in sorted(gaps, key=lambda k: order[k]):
        row: dict[str, Any] = {"stage": label, "n": len(gaps[label]),
                               "wall_p50_ms": round(statistics.median(gaps[label]), 3)}  # fmt: skip
        if len(cpus.get(label, [])) * 2 >= len(gaps[label]):
            row["cpu_p50_ms"] = round(statistics.median(cpus[label]), 3)
        out.append(row)
    return out


_COMMIT_THREAD = {"server.commit_start", "server.appended", "server.fsynced"}


def _server_mark(mark: timeline.Mark) -> tuple[str, str]:
    return mark.stage, "server-commit" if mark.stage in _COMMIT_THREAD else "server"


def _client_marks(
    names: dict[int, str], process: str
) -> Callable[[timeline.Mark], tuple[str, str]]:
    def describe(mark: timeline.Mark) -> tuple[str, str]:
        return names.get(mark.key, "") + mark.stage, process

    return describe


# --------------------------------------------------------------------------- B, the child


async def listener_main(
    base: str, password: str, directory: str, config: SyncConfig, schema: list[dict[str, Any]]
) -> None:
    """B: report when each Ping reaches the listener (one JSON line each on
    stdout); on ``stop`` from stdin, send the timeline marks and exit."""
    record = os.environ.get("BENCH_TIMELINE") == "1"
    app = App(base, config=config)
    user = await app.login("admin", password)
    realm = await app.open_realm(user, REALM, path=Path(directory) / "lat-b.realm", schema=schema)
    await realm.sync_session.wait_for_download_completion(30)
    out = sys.stdout

    def on_change(results: Any, changes: Any) -> None:
        now = time.perf_counter()
        timeline.mark("listener")
        for index in changes.insertions:
            out.write(json.dumps({"key": results[index]._id, "at": now}) + "\n")
        out.flush()

    token = realm.objects("Ping").add_listener(on_change)
    recorder = timeline.Timeline() if record else None
    timeline.install(recorder)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    out.write(json.dumps({"ready": realm.sync_session.client_file_ident}) + "\n")
    out.flush()
    await stdin.readline()  # "stop" (or the parent is gone)
    timeline.install(None)
    token.remove()
    marks = [list(m) for m in recorder.marks] if recorder is not None else []
    out.write(json.dumps({"marks": marks}) + "\n")
    out.flush()
    await app.close()


class ListenerProcess:
    """B in a child process, as seen from A's process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.arrived: dict[int, float] = {}
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.ident = 0
        self.marks: list[timeline.Mark] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(
        cls, script: str, base: str, password: str, directory: Path, record: bool
    ) -> ListenerProcess:
        env = {**os.environ, "BENCH_TIMELINE": "1" if record else "0"}
        env.pop("STUDIO_SYNC_TIMELINE", None)  # the server's file
        proc = await asyncio.create_subprocess_exec(
            sys.executable, script, "--latency-listener", base, str(directory),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=1 << 26,  # the marks come back as one line
        )  # fmt: skip
        child = cls(proc)
        await asyncio.wait_for(asyncio.shield(child._ready), 60)
        return child

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                report = json.loads(line)
                if "key" in report:
                    key = report["key"]
                    self.arrived[key] = report["at"]
                    future = self.waiting.pop(key, None)
                    if future is not None and not future.done():
                        future.set_result(None)
                elif "ready" in report:
                    self.ident = report["ready"]
                    self._ready.set_result(None)
                elif "marks" in report:
                    self.marks = [timeline.Mark(*m) for m in report["marks"]]
                    self._finished.set_result(None)
        finally:
            for future in (self._ready, self._finished):
                if not future.done():
                    future.set_exception(RuntimeError("the listener process ended"))

    def expect(self, key: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return future

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"stop\n")
            await self.proc.stdin.drain()
            await asyncio.wait_for(asyncio.shield(self._finished), 60)
            await asyncio.wait_for(self.proc.wait(), 30)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            self._reader.cancel()


# --------------------------------------------------------------------------- A, the bench


async def bench_latency(
    base: str,
    user: User,
    tmp: Path,
    n: int,
    config: SyncConfig,
    password: str,
    schema: list[dict[str, Any]],
    server_cpu: Callable[[], float],
    trace: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Milliseconds from A's commit to B's listener, ``n`` samples, and the
    raw limits sampled between them (figures for the JSON line); with
    ``trace``, fills it with what :func:`timeline_of` needs."""
    app_a = App(base, config=config)
    a = await app_a.open_realm(user, REALM, path=tmp / "lat-a.realm", schema=schema)
    await a.sync_session.wait_for_download_completion(30)
    script = str(Path(__file__).with_name("bench_sync.py"))
    b = await ListenerProcess.start(script, base, password, tmp, trace is not None)
    raw = RawLimits(tmp)
    out = []
    windows = []
    recorder = timeline.Timeline() if trace is not None else None
    timeline.install(recorder)
    cpu_start = b_cpu_start = 0.0
    try:
        for i in range(n + WARMUP):
            if i == WARMUP:
                cpu_start = server_cpu()
                b_cpu_start = process_cpu(b.proc.pid)
            arrived = b.expect(i)
            with a.write():
                a.create("Ping", {"_id": i, "sent": 0.0})
            committed = time.perf_counter()
            timeline.mark("commit")
            await asyncio.wait_for(arrived, 10)
            if i >= WARMUP:
                out.append((b.arrived[i] - committed) * 1000)
                windows.append((committed, b.arrived[i] + 0.001))  # through its "listener" mark
            await asyncio.sleep(0.001)  # an idle moment between commits, as in a chat
            raw.sample(keep=i >= WARMUP)
            await asyncio.sleep(0.001)
        # The server's CPU per ping does not depend on how loaded the machine is.
        server_us = (server_cpu() - cpu_start) / n * 1e6
        # B's too: receiving, applying and notifying one download (and its listener).
        b_us = (process_cpu(b.proc.pid) - b_cpu_start) / n * 1e6
    finally:
        timeline.install(None)
        raw.close()
        await b.stop()
    if trace is not None and recorder is not None:
        trace["a_marks"] = recorder.marks
        trace["b_marks"] = b.marks
        trace["windows"] = windows
        trace["names"] = {a.sync_session.client_file_ident: "A.", b.ident: "B."}
    await app_a.close()
    return {
        **latency_figures(out, raw.sqlite, raw.fdatasync),
        "latency_server_cpu_us_per_ping": round(server_us),
        "latency_b_cpu_us_per_ping": round(b_us),
    }


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timeline_of(trace: dict[str, Any], server_marks: list[timeline.Mark]) -> list[dict[str, Any]]:
    names = trace["names"]
    return stage_timeline(
        [
            (trace["a_marks"], _client_marks(names, "A")),
            (trace["b_marks"], _client_marks(names, "B")),
            (server_marks, _server_mark),
        ],
        trace["windows"],
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_figures(
    latency: list[float], sqlite: list[float], fsync: list[float]
) -> dict[str, Any]:
    return {
        "latency_p50_ms": round(percentile(latency, 50), 3),
        "latency_p99_ms": round(percentile(latency, 99), 3),
        "latency_mean_ms": round(statistics.fmean(latency), 3),
        "latency_samples": len(latency),
        "raw_sqlite_commit_p50_ms": round(percentile(sqlite, 50), 3),
        "raw_sqlite_commit_p99_ms": round(percentile(sqlite, 99), 3),
        "raw_fdatasync_p50_ms": round(percentile(fsync, 50), 3),
        "raw_fdatasync_p99_ms": round(percentile(fsync, 99), 3),
    }
