"""A sync client's side of a download, in one process: ``RealmStore.integrate`` of
one-object downloads (transform against nothing pending, apply as a write
transaction, store the cursors, notify a listener on the class), CPU microseconds
per download, median over rounds of 200. No decode and no socket: that is
bench_sync's latency part (issue 21).

Next to it, in the same run, the physical limit: a raw sqlite3 transaction
inserting one row (WAL, ``synchronous=NORMAL``, as a client realm), CPU
microseconds per transaction.

    python benchmarks/bench_client_apply.py [--downloads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core import CollectionChanges, Realm, Results
from studio.primitives.instructions import Changeset
from studio.sync.client.store import RealmStore
from studio.sync.client_history import ClientHistory
from studio.sync.history import RemoteChangeset
from studio.sync.protocol.events import ClientEvent, RemoteChanges

SCHEMA = [{"name": "Ping", "primaryKey": "_id", "properties": {"_id": "int", "sent": "double"}}]
ROUND = 200


def _download(history: ClientHistory, changeset: Changeset, version: int) -> list[ClientEvent]:
    acked = history.last_acked_client_version
    remote = RemoteChangeset(version, acked, changeset)
    changes = history.integrate_download([remote], version, acked)
    return [RemoteChanges(1, tuple(changes), version)]


def _acknowledge_schema(history: ClientHistory) -> list[ClientEvent]:
    history.integrate_download([], 0, history.latest_client_version)
    return []


def raw_sqlite_cpu_us(path: Path, count: int) -> float:
    """CPU per one-row transaction of a plain sqlite3 table (median of rounds)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE ping (id INTEGER PRIMARY KEY, sent REAL)")
    rounds: list[float] = []
    for start in range(0, count, ROUND):
        t0 = time.process_time()
        for i in range(start, min(count, start + ROUND)):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO ping VALUES (?, ?)", (i, 0.0))
            conn.execute("COMMIT")
        rounds.append((time.process_time() - t0) / ROUND * 1e6)
    conn.close()
    return statistics.median(rounds)


def main(count: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp())
    with Realm.open(tmp / "a.realm", schema=SCHEMA, record_history=True) as source:
        for i in range(count):
            with source.write():
                source.create("Ping", {"_id": i, "sent": 0.0})
        creates = [dataclasses.replace(c, origin_file_ident=2) for c in source.history()[1:]]
    realm = Realm.open(tmp / "b.realm", schema=SCHEMA, record_history=True)
    store = RealmStore(realm, "ws://bench", "/bench", "bench")
    history = store.load()
    store.pull_local(history)
    # Its schema acknowledged, as after a bind: nothing pending to transform against.
    store.integrate(history, lambda: _acknowledge_schema(history), acknowledgement_only=True)
    seen: list[CollectionChanges] = []

    def on_change(_results: Results, changes: CollectionChanges) -> None:
        seen.append(changes)

    token = realm.objects("Ping").add_listener(on_change)
    rounds: list[float] = []
    for start in range(0, count, ROUND):
        t0 = time.process_time()
        for i in range(start, min(count, start + ROUND)):
            create = creates[i]
            store.integrate(history, lambda c=create, v=i + 1: _download(history, c, v))
        rounds.append((time.process_time() - t0) / ROUND * 1e6)
    token.remove()
    realm.close()
    assert len(seen) == count, f"the listener fired {len(seen)} times for {count} downloads"
    raw = raw_sqlite_cpu_us(tmp / "raw.db", count)
    shutil.rmtree(tmp, ignore_errors=True)
    applied = statistics.median(rounds)
    return {
        "downloads": count,
        "cpu_us_per_download_p50": round(applied, 1),
        "raw_sqlite_txn_cpu_us_p50": round(raw, 1),
        "download_over_raw_txn": round(applied / raw, 2),
        "cpu_us_per_download_min": round(min(rounds), 1),
        "load_avg_1m": os.getloadavg()[0],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--downloads", type=int, default=3000, help="downloads applied (3000)")
    print(json.dumps(main(parser.parse_args().downloads)))
