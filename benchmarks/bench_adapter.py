"""The PostgreSQL data adapter: prints one JSON line (docs/performance.md).

A private object server (``python -m studio.server``) and a private PostgreSQL
(the ``pgserver`` package, the test extra) are started; the adapter runs in
this process. Measured in one run:

- ``realm_to_pg_rows_per_s``: a realm of ``--objects`` objects (written by a
  device in transactions of 1,000) and an empty database: rows per second of
  the adapter's initial load transaction (reading the objects from its realm
  copy, ``COPY`` and merge, the commit with the server version);
- ``streaming_rows_per_s``: then the device writes ``--objects`` more while
  the adapter runs: rows per second over the adapter's mirroring transactions
  (one per download; they share the process with the sync client applying the
  next downloads, which runs during their awaits, so this is a lower bound);
  ``end_to_end_rows_per_s``: from the device's first commit to the last row
  visible in PostgreSQL (upload, server, download, mirroring), beside
  ``sync_only_rows_per_s``: to the last object in the adapter's realm copy
  (the sync alone, the bound of the end-to-end rate);
- ``raw_executemany_rows_per_s`` and ``raw_copy_rows_per_s``: the same rows
  written by bare psycopg ``executemany`` (1,000 a transaction) and ``COPY``
  into a table of the same columns: what PostgreSQL itself allows here;
- ``sql_update_to_device_p50_ms`` / ``_p99_ms``: from a SQL ``UPDATE`` (another
  client, autocommit) to the change listener of a synced device seeing it.

Usage: python benchmarks/bench_adapter.py [--quick] [--objects N] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from bench_pg_append import _start_postgres
from bench_sync import NO_WATCH, PASSWORD, SCHEMA, percentile, start_process

from studio.integrations import PostgresAdapter
from studio.sync.client import App, SyncedRealm

REALM = "/bench/adapter"
BATCH = 1000


def item(key: int) -> dict[str, Any]:
    return {"_id": key, "name": f"item {key}", "value": key * 0.5, "tag": "t"}


async def wait_rows(dsn: str, count: int, timeout: float = 600) -> float:
    """The time the table holds ``count`` rows of the realm."""
    deadline = time.monotonic() + timeout
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            with_table = await conn.execute("SELECT to_regclass('\"Item\"') IS NOT NULL")
            row = await with_table.fetchone()
            if row and row[0]:
                cur = await conn.execute('SELECT count(*) FROM "Item" WHERE _realm = %s', (REALM,))
                found = await cur.fetchone()
                if found and found[0] >= count:
                    return time.perf_counter()
            await asyncio.sleep(0.02)
    raise TimeoutError(f"the adapter did not write {count} rows in {timeout} s")


def bench_raw(dsn: str, objects: int) -> tuple[float, float]:
    """Rows per second of bare executemany and COPY of the same rows."""
    rows = [(REALM, k, f"item {k}", k * 0.5, "t") for k in range(objects)]
    create = ("CREATE TABLE {} (_realm text NOT NULL, _id bigint, name text, value double"
              " precision, tag text, PRIMARY KEY (_realm, _id))")  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(create.format("raw_many"))
        conn.execute(create.format("raw_copy"))
        started = time.perf_counter()
        for first in range(0, objects, BATCH):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO raw_many VALUES (%s, %s, %s, %s, %s)",
                                rows[first:first + BATCH])  # fmt: skip
        many = objects / (time.perf_counter() - started)
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur, cur.copy(
            "COPY raw_copy FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        copied = objects / (time.perf_counter() - started)
    return many, copied


async def wait_copy(adapter: PostgresAdapter, count: int, timeout: float = 600) -> float:
    """The time the adapter's realm copy holds ``count`` objects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(adapter.notifier.realm(REALM).objects("Item")) >= count:
            return time.perf_counter()
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the adapter's copy did not get {count} objects in {timeout} s")


async def bench_updates(dsn: str, device: SyncedRealm, samples: int) -> list[float]:
    waiting: dict[str, asyncio.Future[float]] = {}
    items = device.objects("Item")

    def on_change(results: Any, changes: Any) -> None:
        now = time.perf_counter()
        for index in changes.modifications:
            future = waiting.pop(results[index]["name"], None)
            if future is not None and not future.done():
                future.set_result(now)

    token = items.add_listener(on_change)
    loop = asyncio.get_running_loop()
    out: list[float] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for i in range(samples + 5):
            name = f"updated {i}"
            future: asyncio.Future[float] = loop.create_future()
            waiting[name] = future
            started = time.perf_counter()
            await conn.execute('UPDATE "Item" SET name = %s WHERE _realm = %s AND _id = %s',
                               (name, REALM, i % 100))  # fmt: skip
            arrived = await asyncio.wait_for(future, 30)
            if i >= 5:  # the first ones warm the connections up
                out.append((arrived - started) * 1000)
    token.remove()
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    objects = 5000 if args.quick else args.objects
    samples = 20 if args.quick else args.samples
    tmp = Path(tempfile.mkdtemp(prefix="bench-adapter-"))
    base_dsn, pg = _start_postgres()
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench_adapter")
    dsn = base_dsn.replace("dbname=postgres", "dbname=bench_adapter")
    server, url = start_process([
        sys.executable, "-m", "studio.server", "--data", str(tmp / "server"), "--port", "0",
        "--admin-password", PASSWORD, "--log-level", "error",
    ])  # fmt: skip
    results: dict[str, Any] = {
        "benchmark": "adapter", "python": platform.python_version(), "cpus": os.cpu_count(),
        "load1": round(os.getloadavg()[0], 2), "objects": objects,
    }  # fmt: skip
    try:
        app = App(url, config=NO_WATCH, base_dir=tmp / "device")
        user = await app.login("admin", PASSWORD)
        device = await app.open_realm(user, REALM, schema=SCHEMA)
        for first in range(-objects, 0, BATCH):
            with device.write():
                for key in range(first, min(0, first + BATCH)):
                    device.create("Item", item(key))
        await device.sync_session.wait_for_upload_completion(600)
        adapter = PostgresAdapter(url, username="admin", password=PASSWORD,
                                  data_dir=tmp / "adapter", dsn=dsn, realms=f"^{REALM}$",
                                  poll_interval=0.5, sync_config=NO_WATCH)  # fmt: skip
        async with adapter:
            while REALM not in adapter.ready_realms:
                await asyncio.sleep(0.02)
            await wait_rows(dsn, objects)
            initial = dataclasses.replace(adapter.stats)
            started = time.perf_counter()
            for first in range(0, objects, BATCH):
                with device.write():
                    for key in range(first, min(objects, first + BATCH)):
                        device.create("Item", item(key))
                await asyncio.sleep(0)
            copied_task = asyncio.create_task(wait_copy(adapter, 2 * objects))
            done = await wait_rows(dsn, 2 * objects)
            synced = await copied_task
            stats = adapter.stats
            updates = await bench_updates(dsn, device, samples)
        await app.close()
        many, copied = bench_raw(dsn, objects)
        results.update({
            "realm_to_pg_rows_per_s": round(initial.rows / initial.seconds, 1),
            "streaming_rows_per_s": round((stats.rows - initial.rows)
                                          / (stats.seconds - initial.seconds), 1),
            "streaming_transactions": stats.transactions - initial.transactions,
            "end_to_end_rows_per_s": round(objects / (done - started), 1),
            "sync_only_rows_per_s": round(objects / (synced - started), 1),
            "raw_executemany_rows_per_s": round(many, 1),
            "raw_copy_rows_per_s": round(copied, 1),
            "sql_update_to_device_p50_ms": round(percentile(updates, 50), 2),
            "sql_update_to_device_p99_ms": round(percentile(updates, 99), 2),
            "samples": len(updates),
        })  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
        pg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 objects, 20 samples")
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
