"""The sync client's local history: how many changesets a realm file keeps and
how big it is, syncing online, after writing offline, and after syncing again.

Starts an object server in this process, writes ``--transactions`` write
transactions (each sets one counter) online, then as many offline, then syncs
and writes as many online again, and prints one JSON line:

    python benchmarks/bench_client_history.py [--transactions 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from studio.core import Realm
from studio.core.synced import history_row_count
from studio.server import Server, ServerConfig
from studio.sync.client import App, SyncConfig

SCHEMA = [{"name": "Counter", "primaryKey": "_id", "properties": {"_id": "string", "n": "int"}}]
ADMIN_PASSWORD = "bench-admin"


def figures(realm: Realm, path: Path, label: str) -> dict[str, int]:
    """History rows, their bytes, the database file and its write-ahead log."""
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(instructions)), 0) FROM _studio_history"
        ).fetchone()
    wal = Path(f"{path}-wal")
    return {
        f"{label}_history_rows": history_row_count(realm),
        f"{label}_history_bytes": int(stored),
        f"{label}_db_kb": path.stat().st_size // 1024,
        f"{label}_wal_kb": (wal.stat().st_size if wal.exists() else 0) // 1024,
    }


def bump(realm: Realm, count: int) -> None:
    for _ in range(count):
        with realm.write():
            counter = realm.object_for_primary_key("Counter", "c")
            counter.n = counter.n + 1


async def run(transactions: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config = ServerConfig(
            data_dir=base / "server", port=0, admin_password=ADMIN_PASSWORD, scrypt_n=2**10
        )
        server = Server(config, out=open(os.devnull, "w"))  # noqa: SIM115
        await server.start()
        try:
            app = App(server.url, config=SyncConfig(watch_files=False), base_dir=base / "app")
            await app.login("admin", ADMIN_PASSWORD)
            await app.admin.create_user("bench", "pw")
            user = await app.login("bench", "pw")
            local = base / "counter.realm"
            realm = await app.open_realm(user, "/~/counter", path=local, schema=SCHEMA)
            with realm.write():
                realm.create("Counter", {"_id": "c", "n": 0})
            session = realm.sync_session
            out: dict[str, Any] = {"transactions": transactions}

            async def online(label: str) -> None:
                started = time.perf_counter()
                for _ in range(0, transactions, batch):
                    bump(realm, batch)
                    await session.wait_for_upload_completion(60)
                out[f"{label}_s"] = round(time.perf_counter() - started, 2)
                out.update(figures(realm, local, label))

            await online("online")
            session.pause()
            bump(realm, transactions)
            out.update(figures(realm, local, "offline"))
            session.resume()
            await session.wait_for_upload_completion(60)
            out.update(figures(realm, local, "after_sync"))
            await online("online_again")
            await app.close()
            return out
        finally:
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="writes between upload waits")
    args = parser.parse_args()
    result = asyncio.run(run(args.transactions, args.batch))
    result["load_average"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
