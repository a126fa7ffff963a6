"""bench_sync.py's history compaction part: a realm of N changesets over M
objects, bootstrapped by a new client before and after
``POST /admin/realms/{realm}/compact`` (time and bytes), and the
compaction's own time.

The history is written straight into a data directory through the SQLite
storage (making a million changesets through the protocol would take longer
than everything measured), and the realm's state file is brought up to date
there too (the server compacts only what its state has applied). The
changesets look like an app's: the schema, every object created with a name,
then one field of one object set per changeset, and now and then an object
created and erased again. A bootstrap is a raw protocol client binding as a
new client and reading until it has the latest version (it applies nothing,
so the figures are the server's and the wire's).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    Changeset,
    CreateObject,
    EraseObject,
    Instruction,
    Set,
)
from studio.server.storage.base import ClientIdent, RealmWrite, StoredEntry
from studio.server.storage.sqlite import SqliteServerStorage
from studio.sync.history import HistoryEntry
from studio.sync.protocol import WEBSOCKET_SUBPROTOCOL, Bind, encode_message

REALM = "/shared/long-lived"
WRITER = 1


def history_rows(changesets: int, objects: int) -> list[tuple[Instruction, ...]]:
    rows: list[tuple[Instruction, ...]] = [(
        AddClass("Item", "_id", "int", False, False),
        AddProperty("Item", "name", "string?"),
        AddProperty("Item", "value", "int?"),
    )]  # fmt: skip
    for key in range(min(objects, changesets - 1)):
        rows.append((CreateObject("Item", key), Set("Item", key, ("name",), f"item {key}")))
    n = 0
    while len(rows) < changesets:
        n += 1
        if n % 1000 == 0:  # made and erased again: gone after compaction
            gone = objects + n
            rows.append((CreateObject("Item", gone), EraseObject("Item", gone)))
        else:
            rows.append((Set("Item", n % objects, ("value",), n),))
    return rows


def build_data(data: Path, changesets: int, objects: int) -> dict[str, float]:
    """The data directory of a server whose realm REALM holds the history."""
    started = time.perf_counter()
    storage = SqliteServerStorage(data, state_in_process=True)
    try:
        storage.create_realm(REALM, None)
        store = storage.open_realm(REALM)
        # Stamped an hour ago: with --history-retention 1s no client that is
        # not bound holds the compaction back.
        stamp = int(time.time() * 1000) - 3_600_000
        rows = history_rows(changesets, objects)
        idents = [ClientIdent(WRITER, "bench", None, None)]
        for first in range(0, len(rows), 20_000):
            entries = []
            for version in range(first + 1, min(len(rows), first + 20_000) + 1):
                changeset = Changeset(WRITER, version, version - 1, stamp, rows[version - 1])
                entries.append(StoredEntry(
                    HistoryEntry(version, WRITER, version, stamp, changeset, stamp), "bench"
                ))  # fmt: skip
            store.append(RealmWrite(entries, idents, {WRITER: entries[-1].entry.server_version}))
            idents = []
        written = time.perf_counter()
        stats = store.update_state(max_changesets=5000)
        while stats.state_version < stats.server_version:
            stats = store.update_state(max_changesets=5000)
        store.close()
    finally:
        storage.close()
    return {
        "compaction_build_history_s": round(written - started, 2),
        "compaction_build_state_s": round(time.perf_counter() - written, 2),
    }


async def bootstrap(sync_url: str, token: str) -> tuple[float, int, int]:
    """A new client downloads the realm: (seconds, bytes received, changesets)."""
    started = time.perf_counter()
    received = changesets = 0
    async with connect(
        sync_url, subprotocols=[Subprotocol(WEBSOCKET_SUBPROTOCOL)], compression=None,
        ping_interval=None, max_size=None, proxy=None, open_timeout=120,
    ) as ws:  # fmt: skip
        await ws.send(encode_message(Bind(1, REALM, token)))
        async for frame in ws:
            assert isinstance(frame, bytes)
            received += len(frame)
            message = msgpack.unpackb(frame, raw=False)
            kind = message.get("type")
            if kind == "error":
                raise RuntimeError(f"server error: {message}")
            if kind == "download":
                changesets += len(message["changesets"])
                progress = message["progress"]
                if progress["server_version"] >= progress["latest_server_version"]:
                    break
    return time.perf_counter() - started, received, changesets


async def bench_compaction(
    start_process: Any, password: str, tmp: Path, changesets: int, objects: int
) -> dict[str, Any]:
    data = tmp / "compaction-server"
    results: dict[str, Any] = {"compaction_changesets": changesets,
                               "compaction_objects": objects}  # fmt: skip
    results.update(await asyncio.to_thread(build_data, data, changesets, objects))
    server, base = start_process([
        sys.executable, "-m", "studio.server", "--data", str(data), "--port", "0",
        "--admin-password", password, "--log-level", "error",
        "--history-retention", "1s", "--compaction-interval", "0",
        "--access-token-ttl", "86400",  # loading a long history takes minutes
    ])  # fmt: skip
    sync_url = base.replace("http", "ws", 1) + "/sync"
    try:
        async with aiohttp.ClientSession() as http:

            async def login() -> str:
                async with http.post(
                    base + "/auth/login", json={"username": "admin", "password": password}
                ) as resp:
                    return str((await resp.json())["access_token"])

            load_s, _, _ = await bootstrap(sync_url, await login())  # loads the realm
            before_s, before_bytes, before_count = await bootstrap(sync_url, await login())
            token = await login()
            async with http.post(
                base + "/admin/realms/shared/long-lived/compact",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                answer = await resp.json()
                assert resp.status == 200 and answer["compacted"], answer
            after_s, after_bytes, after_count = await bootstrap(sync_url, await login())
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        if server.poll() is None:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)
    results.update({
        "compaction_first_bootstrap_s": round(load_s, 2),
        "bootstrap_before_s": round(before_s, 3),
        "bootstrap_before_bytes": before_bytes,
        "bootstrap_before_changesets": before_count,
        "compaction_s": answer["seconds"],
        "compaction_versions_before": answer["versions_before"],
        "compaction_versions_after": answer["versions_after"],
        "compaction_bytes_before": answer["bytes_before"],
        "compaction_bytes_after": answer["bytes_after"],
        "bootstrap_after_s": round(after_s, 3),
        "bootstrap_after_bytes": after_bytes,
        "bootstrap_after_changesets": after_count,
    })  # fmt: skip
    return results
