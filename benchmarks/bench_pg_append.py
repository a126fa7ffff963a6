"""The append path on PostgreSQL, asyncpg against psycopg 3: prints one JSON line.

Measured in one run, on one database, each append one transaction committed
with ``synchronous_commit=on`` (what the server does before an ack):

- ``raw_insert``: a bare ``INSERT`` of a 200-byte row per transaction
  (psycopg, autocommit): the baseline, what PostgreSQL itself allows;
- ``psycopg_append`` and ``asyncpg_append``: the server's append SQL with
  each driver: ``pg_advisory_xact_lock(realm)``, the version check, the
  history ``INSERT`` and the realm row ``UPDATE``;
- ``studio_append``: the same through ``PostgresRealmStorage.append`` (what
  the server runs: psycopg, its connection pool, the error mapping).

Throughput is appends per second. Without ``--dsn`` a private PostgreSQL is
started from the ``pgserver`` package (the test extra) in a temporary directory.

The variants take turns in ``--rounds`` rounds, so that a drift of the
disk's speed (other load) spreads over all of them.

Usage: python benchmarks/bench_pg_append.py [--appends 10000] [--dsn DSN]
       [--synchronous-commit off]   # the drivers' own cost, without the flush
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import psycopg

from studio.primitives.instructions import Changeset
from studio.server.storage.base import RealmWrite, StoredEntry
from studio.server.storage.postgres import PostgresServerStorage
from studio.server.storage.postgres_realm import PostgresRealmStorage
from studio.sync.history import HistoryEntry

PAYLOAD = os.urandom(200)
SYNC = "on"
"""synchronous_commit of the benchmark's connections (``--synchronous-commit``)."""
_APPEND_SQL = (
    "INSERT INTO studio_history (realm_id, server_version, origin_file_ident, "
    "client_version, timestamp_ms, integrated_at_ms, username, changeset) "
)


def _start_postgres() -> tuple[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="studio-bench-pg-"))
    os.chmod(root, 0o755)  # as root, pgserver runs the server as another user
    runtime = root / "run"  # pgserver keeps a lock there (else a warning)
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    server = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    socket = urllib.parse.parse_qs(urllib.parse.urlsplit(server.get_uri()).query)["host"][0]
    return f"host={socket} user=postgres dbname=postgres", server


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def bench_raw(dsn: str, first: int, n: int) -> float:
    """Seconds for ``n`` bare inserts."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET synchronous_commit TO {SYNC}")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT PRIMARY KEY, data BYTEA NOT NULL)"
        )
        started = time.perf_counter()
        for i in range(first, first + n):
            conn.execute("INSERT INTO bench_raw VALUES (%s, %s)", (i, PAYLOAD))
        return time.perf_counter() - started


def _new_realm(storage: PostgresServerStorage, path: str) -> PostgresRealmStorage:
    storage.create_realm(path, None)
    store = storage.open_realm(path)
    assert isinstance(store, PostgresRealmStorage)
    return store


def bench_psycopg(dsn: str, realm_id: int, first: int, n: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET synchronous_commit TO {SYNC}")
        started = time.perf_counter()
        for v in range(first, first + n):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (realm_id,))
                row = conn.execute(
                    "SELECT server_version FROM studio_realms WHERE id = %s", (realm_id,)
                ).fetchone()
                assert row is not None and row[0] == v - 1
                conn.execute(
                    _APPEND_SQL + "VALUES (%s, %s, 1, %s, 0, 0, 'bench', %s)",
                    (realm_id, v, v, PAYLOAD),
                )
                conn.execute(
                    "UPDATE studio_realms SET server_version = %s, "
                    "history_bytes = history_bytes + %s WHERE id = %s",
                    (v, len(PAYLOAD), realm_id),
                )
        return time.perf_counter() - started


async def _asyncpg(dsn: str, realm_id: int, first: int, n: int) -> float:
    conn = await asyncpg.connect(dsn=_asyncpg_dsn(dsn))
    try:
        await conn.execute(f"SET synchronous_commit TO {SYNC}")
        started = time.perf_counter()
        for v in range(first, first + n):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", realm_id)
                latest = await conn.fetchval(
                    "SELECT server_version FROM studio_realms WHERE id = $1", realm_id
                )
                assert latest == v - 1
                await conn.execute(
                    _APPEND_SQL + "VALUES ($1, $2, 1, $3, 0, 0, 'bench', $4)",
                    realm_id,
                    v,
                    v,
                    PAYLOAD,
                )
                await conn.execute(
                    "UPDATE studio_realms SET server_version = $1, "
                    "history_bytes = history_bytes + $2 WHERE id = $3",
                    v,
                    len(PAYLOAD),
                    realm_id,
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


def _asyncpg_dsn(dsn: str) -> str:
    """asyncpg parses URIs only (not libpq's key=value strings)."""
    if "://" in dsn:
        return dsn
    parts = dict(item.split("=", 1) for item in dsn.split())
    host = urllib.parse.quote(parts.pop("host", ""))
    user = parts.pop("user", "postgres")
    db = parts.pop("dbname", "postgres")
    return f"postgresql://{user}@/{db}?host={host}"


def bench_studio(store: PostgresRealmStorage, first: int, n: int) -> float:
    started = time.perf_counter()
    for v in range(first, first + n):
        changeset = Changeset(1, v, v - 1, 0, ())
        store.append(
            RealmWrite([StoredEntry(HistoryEntry(v, 1, v, 0, changeset, 0), "bench", PAYLOAD)])
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--dsn", help="an existing database (else a private server is started)")
    parser.add_argument("--rounds", type=int, default=5, help="the variants take turns")
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="off shows the drivers' own cost (no flush per commit; the server never does this)",
    )
    args = parser.parse_args()
    global SYNC
    SYNC = args.synchronous_commit
    server = None
    dsn = args.dsn
    if dsn is None:
        dsn, server = _start_postgres()
    n = args.appends
    try:
        storage = PostgresServerStorage(dsn, None, state_in_process=True)
        tag = os.urandom(4).hex()
        try:
            stores = [_new_realm(storage, f"/shared/bench-{tag}-{k}") for k in range(3)]
            results: dict[str, Any] = {
                "benchmark": "pg_append",
                "appends": n,
                "changeset_bytes": len(PAYLOAD),
                "python": platform.python_version(),
                "psycopg": psycopg.__version__,
                "asyncpg": asyncpg.__version__,
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
            # The variants take turns (the disk's speed drifts under other load).
            seconds = dict.fromkeys(("raw_insert", "psycopg", "asyncpg", "studio"), 0.0)
            per_round = n // args.rounds
            for k in range(args.rounds):
                first = k * per_round + 1
                seconds["raw_insert"] += bench_raw(dsn, first, per_round)
                seconds["psycopg"] += bench_psycopg(dsn, stores[0].realm_id, first, per_round)
                seconds["asyncpg"] += asyncio.run(
                    _asyncpg(dsn, stores[1].realm_id, first, per_round)
                )
                seconds["studio"] += bench_studio(stores[2], first, per_round)
            total = per_round * args.rounds
            results["raw_insert_per_s"] = _rate(total, seconds["raw_insert"])
            results["psycopg_append_per_s"] = _rate(total, seconds["psycopg"])
            results["asyncpg_append_per_s"] = _rate(total, seconds["asyncpg"])
            results["studio_append_per_s"] = _rate(total, seconds["studio"])
            with psycopg.connect(dsn, autocommit=True) as conn:
                row = conn.execute("SHOW synchronous_commit").fetchone()
                results["server_synchronous_commit"] = row[0] if row else None
                results["synchronous_commit"] = SYNC
                conn.execute("DROP TABLE IF EXISTS bench_raw")
            for store in stores:
                store.close()
                storage.delete_realm(store.path)
        finally:
            storage.close()
    finally:
        if server is not None:
            server.cleanup()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
