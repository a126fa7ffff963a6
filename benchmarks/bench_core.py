"""Core store benchmark: prints one JSON line.

Measures, in one run and on the same machine:
- bulk insert of N objects with 6 scalar properties in one transaction, with a loop of
  ``create`` and with ``create_many``, against sqlite3 ``executemany`` of the same rows
  (a) into a plain table (``id INTEGER PRIMARY KEY`` and five columns: what an app
  would write by hand) and (b) into a raw table with the store's own object key and
  primary-key index (the physical limit of the store's layout; it flatters the ratio);
  the runs of each are interleaved and their medians compared;
- lookups by primary key per second;
- full iteration of a class, objects per second (reading one property of each);
- latency of a one-object change notification on a sorted Results of M objects
  (from the start of the write to the listener call), for a change of a non-sort
  property and for a change that moves the object.

Usage: python benchmarks/bench_core.py [--objects 200000] [--notify-objects 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core import Realm

SCHEMA = [
    {
        "name": "Item",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": "string",
            "price": "double",
            "count": "int",
            "active": "bool",
            "note": "string?",
        },
    }
]


Row = tuple[int, str, float, int, bool, str | None]


def rows(n: int) -> list[Row]:
    return [
        (i, f"item {i}", i * 0.5, i % 97, i % 2 == 0, None if i % 3 else "n") for i in range(n)
    ]


def bench_raw_insert(path: Path, data: list[Row]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        'CREATE TABLE item ("@key" INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER, name TEXT, '
        "price REAL, count INTEGER, active INTEGER, note TEXT)"
    )
    conn.execute("CREATE UNIQUE INDEX item_id ON item (id)")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO item (id, name, price, count, active, note) VALUES (?, ?, ?, ?, ?, ?)", data
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def bench_plain_insert(path: Path, data: list[Row]) -> float:
    """A plain table, as anyone would write it: the id is the rowid, no other index."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL, count INTEGER, "
        "active INTEGER, note TEXT)"
    )
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO item (id, name, price, count, active, note) VALUES (?, ?, ?, ?, ?, ?)", data
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def as_dicts(data: list[Row]) -> list[dict[str, Any]]:
    """The same rows as the dicts the API takes (built before timing, as the tuples of
    the executemany baselines are)."""
    names = ("id", "name", "price", "count", "active", "note")
    return [dict(zip(names, row, strict=True)) for row in data]


def bench_insert(path: Path, objects: list[dict[str, Any]]) -> float:
    realm = Realm.open(path, schema=SCHEMA)
    start = time.perf_counter()
    with realm.write():
        create = realm.create
        for values in objects:
            create("Item", values)
    elapsed = time.perf_counter() - start
    realm.close()
    return elapsed


def bench_create_many(path: Path, objects: list[dict[str, Any]]) -> float:
    realm = Realm.open(path, schema=SCHEMA)
    start = time.perf_counter()
    with realm.write():
        realm.create_many("Item", objects)
    elapsed = time.perf_counter() - start
    realm.close()
    return elapsed


def bench_lookup(path: Path, n: int, lookups: int) -> float:
    realm = Realm.open(path)
    step = max(1, n // lookups)
    keys = [(i * step) % n for i in range(lookups)]
    start = time.perf_counter()
    for k in keys:
        obj = realm.object_for_primary_key("Item", k)
        assert obj is not None
    elapsed = time.perf_counter() - start
    realm.close()
    return lookups / elapsed


def bench_iterate(path: Path) -> float:
    realm = Realm.open(path)
    results = realm.objects("Item")
    start = time.perf_counter()
    total = 0
    count = 0
    for obj in results:
        total += obj["count"]
        count += 1
    elapsed = time.perf_counter() - start
    realm.close()
    return count / elapsed


def bench_raw_iterate(path: Path) -> float:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    total = 0
    count = 0
    for row in conn.execute('SELECT * FROM "class_Item" ORDER BY "@key"'):
        total += row[4]
        count += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def bench_notification(path: Path, n: int, repeats: int) -> dict[str, float]:
    realm = Realm.open(path, schema=SCHEMA)
    missing = len(realm.objects("Item")) < n
    realm.close()
    if missing:
        # Filling a million rows through the API is measured above; here only the
        # notification matters, so the rows go in through SQL in the store's layout.
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            'INSERT INTO "class_Item" (id, name, price, count, active, note) '
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows(n),
        )
        conn.execute("COMMIT")
        conn.close()
    realm = Realm.open(path)
    results = realm.objects("Item").sorted("price")
    arrived: list[float] = []
    token = results.add_listener(lambda r, c: arrived.append(time.perf_counter()))
    latencies: dict[str, list[float]] = {"modify": [], "move": []}
    for i in range(repeats):
        target = realm.object_for_primary_key("Item", (i * 7919) % n)
        assert target is not None
        start = time.perf_counter()
        with realm.write():
            target["count"] = i + 1000
        latencies["modify"].append(arrived[-1] - start)
        start = time.perf_counter()
        with realm.write():
            target["price"] = float((i * 104729) % n)
        latencies["move"].append(arrived[-1] - start)
    token.remove()
    realm.close()
    return {k: statistics.median(v) * 1000 for k, v in latencies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=200_000)
    parser.add_argument("--notify-objects", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = rows(args.objects)
    objects = as_dicts(data)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        times: dict[str, list[float]] = {"plain": [], "raw": [], "loop": [], "many": []}
        for r in range(args.repeats):
            times["plain"].append(bench_plain_insert(base / f"plain{r}.sqlite", data))
            times["raw"].append(bench_raw_insert(base / f"raw{r}.sqlite", data))
            times["loop"].append(bench_insert(base / f"ours{r}.realm", objects))
            times["many"].append(bench_create_many(base / f"many{r}.realm", objects))
        plain, raw, ours, many = (
            statistics.median(times[k]) for k in ("plain", "raw", "loop", "many")
        )
        lookups = bench_lookup(base / "ours0.realm", args.objects, min(args.objects, 50_000))
        iterate = statistics.median(bench_iterate(base / "ours0.realm") for _ in range(3))
        raw_iterate = statistics.median(
            bench_raw_iterate(base / "ours0.realm") for _ in range(3)
        )
        notify = bench_notification(base / "notify.realm", args.notify_objects, 5)
    print(
        json.dumps(
            {
                "benchmark": "core",
                "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
                "objects": args.objects,
                "insert_objects_per_s": round(args.objects / ours),
                "create_many_objects_per_s": round(args.objects / many),
                "plain_sqlite_executemany_rows_per_s": round(args.objects / plain),
                "raw_sqlite_executemany_rows_per_s": round(args.objects / raw),
                "insert_ratio_vs_plain": round(plain / ours, 3),
                "create_many_ratio_vs_plain": round(plain / many, 3),
                "insert_ratio_vs_raw": round(raw / ours, 3),
                "create_many_ratio_vs_raw": round(raw / many, 3),
                "pk_lookups_per_s": round(lookups),
                "iterate_objects_per_s": round(iterate),
                "raw_sqlite_iterate_rows_per_s": round(raw_iterate),
                "iterate_ratio_vs_raw": round(iterate / raw_iterate, 3),
                "notify_objects": args.notify_objects,
                "notify_latency_ms_modify": round(notify["modify"], 2),
                "notify_latency_ms_move": round(notify["move"], 2),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
